"""Time to render every recipe (files and proxy snippets), in memory. Target: <= 0.3 s in total."""

from __future__ import annotations

import time


def main() -> None:
    start = time.perf_counter()
    from stackctl.network import layout
    from stackctl.recipe import all_recipes
    from stackctl.render import StackInputs, render_stack
    from stackctl.settings import parse_site, stack_settings

    site = parse_site({})
    count = 0
    for recipe in all_recipes().values():
        settings = stack_settings(site, recipe.name, recipe.settings, list(all_recipes()))
        plan = layout(recipe.network.name, "172.21.0.0/24", recipe.network.fixed_ips, "bench")
        count += len(render_stack(StackInputs(recipe, site, settings, plan, {}, {})))
    elapsed = time.perf_counter() - start
    print(
        f"rendered {count} files for {len(all_recipes())} recipes in {elapsed * 1000:.1f} ms (imports included)"
    )
    print(f"target <= 300 ms: {'met' if elapsed <= 0.3 else 'NOT met'}")


if __name__ == "__main__":
    main()
