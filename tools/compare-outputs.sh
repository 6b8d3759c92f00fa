#!/usr/bin/env bash
# Compares two EVOQUANT_RECORD_OUTPUTS files (see src/EvoQuant.Core/Quantization/OutputRecorder.cs):
# prints the outputs recorded in only one of them, grouped by input model, and exits 1 if any differ.
# Usage: EVOQUANT_RECORD_OUTPUTS=$PWD/out/before.txt dotnet pwsh ./build.ps1 -Task Test   (then after)
#        tools/compare-outputs.sh out/before.txt out/after.txt
set -euo pipefail
before=$(mktemp); after=$(mktemp); trap 'rm -f "$before" "$after"' EXIT
sort "$1" | uniq -c > "$before"; sort "$2" | uniq -c > "$after"
echo "before: $(wc -l < "$1") outputs from $(cut -d' ' -f1 "$1" | sort -u | wc -l) inputs; after: $(wc -l < "$2") outputs"
if diff "$before" "$after" > /dev/null; then echo "identical"; exit 0; fi
diff "$before" "$after" | grep '^[<>]' | sort -k3,3 -k1,1 || true
exit 1
