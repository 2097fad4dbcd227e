#!/usr/bin/env bash
# Re-create cnmap/maps/vendor/: the Leaflet JavaScript/CSS that cnmap.maps.save_html(...,
# self_contained=True) inlines, so a saved map opens with no network.
#
# Files come from the npm registry with `npm pack` (exact versions: the ones folium's templates
# load from CDNs), keeping each package's own folder layout (CSS url() paths stay valid) and its
# licence ("dist/" folders are renamed "lib/": dist/ is git-ignored here). Every asset is MIT or BSD-2-Clause. Run from anywhere; needs node/npm and network:
#   bash scripts/vendor_assets.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/cnmap/maps/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# package@version  then the files to keep (paths inside the package)
PACKAGES=(
  "leaflet@1.9.3 LICENSE dist/leaflet.js dist/leaflet.css dist/images/layers.png dist/images/layers-2x.png dist/images/marker-icon.png dist/images/marker-icon-2x.png dist/images/marker-shadow.png"
  "leaflet.markercluster@1.1.0 MIT-LICENCE.txt dist/leaflet.markercluster.js dist/MarkerCluster.css dist/MarkerCluster.Default.css"
  "leaflet.fullscreen@3.0.0 LICENSE Control.FullScreen.js Control.FullScreen.css icon-fullscreen.svg"
  "leaflet-search@2.9.7 license.txt dist/leaflet-search.min.js dist/leaflet-search.min.css images/search-icon.png images/loader.gif"
  "jquery@3.7.1 LICENSE.txt dist/jquery.min.js"
)

rm -rf "$DEST"
mkdir -p "$DEST"
for entry in "${PACKAGES[@]}"; do
  read -r spec files <<<"$entry"
  name="${spec%@*}"
  version="${spec##*@}"
  echo "fetching $spec"
  (cd "$WORK" && npm pack "$spec" --silent >/dev/null 2>&1)
  tgz="$WORK/${name}-${version}.tgz"
  mkdir -p "$WORK/$name"
  tar xzf "$tgz" -C "$WORK/$name"
  for f in $files; do
    # "dist/" is git-ignored in this repository: keep the layout, name the folder "lib/"
    out="${f/#dist\//lib/}"
    mkdir -p "$DEST/$name/$(dirname "$out")"
    cp "$WORK/$name/package/$f" "$DEST/$name/$out"
  done
  echo "$version" > "$DEST/$name/VERSION"
done

# a checksum list, verified by the tests (tests/test_maps_assets.py)
(cd "$DEST" && find . -type f ! -name SHA256SUMS | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
echo "vendored into $DEST"
