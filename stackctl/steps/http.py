"""`http-probe`: a service answers over HTTP, asked from the host through its published port.

For images without a health check or without any HTTP client inside (so compose cannot
check them), and to prove the published port works. Runs on every deploy when `always`.

    [[bootstrap]]
    kind = "http-probe"
    id = "whiteboard-answers"
    title = "the whiteboard answers"
    always = true
    url = "http://127.0.0.1:{{ settings.wbo_port }}/manifest.json"
    status = 200                 # optional, the default
    contains = '"name"'          # optional: text the body must hold
    wait_seconds = 120           # optional
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackctl.errors import RecipeError, StackctlError
from stackctl.schema import optional, required
from stackctl.steps import step_kind

if TYPE_CHECKING:
    from stackctl.recipe import Step
    from stackctl.steps import StepContext

WAIT_SECONDS = 120


def probe(url: str, status: int, contains: str, seconds: float) -> str:
    """Poll `url` until it answers `status` with `contains` in the body; the body."""
    import urllib.error
    import urllib.request

    from stackctl.wait import poll

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None  # a redirect is an answer of its own, not something to follow

    opener = urllib.request.build_opener(NoRedirect)

    def attempt() -> tuple[str | None, str]:
        try:
            with opener.open(url, timeout=10) as response:
                code, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            code, body = exc.code, exc.read()
        except OSError as exc:
            return None, str(getattr(exc, "reason", exc))
        text = body.decode(errors="replace")
        if code != status:
            return None, f"HTTP {code}"
        if contains not in text:
            return None, f"HTTP {code} without {contains!r} in the answer"
        return text, ""

    return poll(
        attempt,
        seconds,
        lambda last: StackctlError(
            f"{url} did not answer HTTP {status} in {seconds:.0f}s ({last})",
            "see `stackctl logs` for the service behind that port",
        ),
    )


@step_kind(
    "http-probe",
    {
        "url": required(str),
        "status": optional(int),
        "contains": optional(str),
        "wait_seconds": optional(int, float),
    },
)
def http_probe(step: Step, ctx: StepContext) -> tuple[bool, str]:
    from stackctl.render import expand

    url = expand(ctx.stack.recipe, step.options["url"], ctx.stack.context())
    if not url.startswith(("http://", "https://")):
        raise RecipeError(f"step {step.id}: url {url!r} is not an http(s) URL")
    status = int(step.options.get("status", 200))
    probe(
        url,
        status,
        str(step.options.get("contains", "")),
        float(step.options.get("wait_seconds", WAIT_SECONDS)),
    )
    return False, f"{url} answers {status}"
