#!/bin/sh
# make-pages.sh OUT_DIR NGINX_CONF: one static app per port, like the real
# image's layout (/out/<app>, one nginx server block per port).
set -eu
out="$1"
conf="$2"
: >"$conf"
for entry in 3000:photos 3001:accounts 3002:albums 3003:auth 3004:cast \
    3005:share 3006:embed 3008:paste 3009:app-3009 3010:memories; do
    port="${entry%%:*}"
    app="${entry#*:}"
    dir="$out/$app"
    mkdir -p "$dir"
    cat >"$dir/index.html" <<HTML
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ente-web-standin: $app</title>
<script src="/config.js"></script>
</head>
<body>
<h1>ente-web-standin: $app</h1>
<p>A stand-in page for tests, not Ente.</p>
<dl>
<dt>app</dt><dd id="app">$app</dd>
<dt>port</dt><dd id="port">$port</dd>
<dt>api origin</dt><dd id="api-origin">ENTE_API_ORIGIN_PLACEHOLDER</dd>
<dt>albums origin</dt><dd id="albums-origin">ENTE_ALBUMS_ORIGIN_PLACEHOLDER</dd>
<dt>photos origin</dt><dd id="photos-origin">ENTE_PHOTOS_ORIGIN_PLACEHOLDER</dd>
</dl>
</body>
</html>
HTML
    cat >"$dir/config.js" <<JS
window.ENTE_STANDIN = {"app": "$app", "port": $port, "apiOrigin": "ENTE_API_ORIGIN_PLACEHOLDER", "albumsOrigin": "ENTE_ALBUMS_ORIGIN_PLACEHOLDER", "photosOrigin": "ENTE_PHOTOS_ORIGIN_PLACEHOLDER"};
JS
    printf '{"app": "%s", "port": %s, "apiOrigin": "ENTE_API_ORIGIN_PLACEHOLDER"}\n' \
        "$app" "$port" >"$dir/standin.json"
    cat >>"$conf" <<NGINX
server {
    listen $port;
    root $dir;
    location / { try_files \$uri \$uri.html /index.html; }
}
NGINX
done
