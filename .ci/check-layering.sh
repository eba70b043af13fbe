#!/usr/bin/env bash
# Checks the `import` lines of every target against the layering in docs/architecture.md:
# a target may import only the project modules listed for it here. External modules
# (Foundation, Synchronization, ArgumentParser, …) are not checked.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A allowed=(
  [DeepseekCore]=""
  [DeepseekTracing]="DeepseekCore"
  [DeepseekTensor]="DeepseekCore"
  [DeepseekKernelsBLAS]="DeepseekCore DeepseekTensor CDeepseekBLAS"
  [DeepseekKernelsOpenCL]="DeepseekCore DeepseekTensor CDeepseekOpenCL"
  [DeepseekONNX]="DeepseekCore DeepseekTensor"
  [DeepseekGraph]="DeepseekCore DeepseekTensor DeepseekTracing"
  [DeepseekNN]="DeepseekCore DeepseekTensor DeepseekGraph"
  [DeepseekActors]="DeepseekCore DeepseekTracing"
  [DeepseekEmbedded]="DeepseekCore DeepseekTracing DeepseekActors"
  [DeepseekTransportURing]="DeepseekCore DeepseekActors DeepseekTracing CDeepseekURing"
  [DeepseekTransportVerbs]="DeepseekCore DeepseekActors DeepseekTracing CDeepseekVerbs"
  [DeepseekRuntime]="DeepseekCore DeepseekTensor DeepseekTracing DeepseekGraph DeepseekActors"
  [DeepseekStorage]="DeepseekCore DeepseekTensor DeepseekTracing CDeepseekURing"
  [DeepseekTraining]="DeepseekCore DeepseekTensor DeepseekGraph DeepseekNN DeepseekRuntime DeepseekActors DeepseekStorage DeepseekTracing CDeepseekZlib"
  [DeepseekModels]="DeepseekCore DeepseekTensor DeepseekGraph DeepseekNN"
  [DeepseekTraceExport]="DeepseekCore DeepseekTracing"
  [DeepseekSimulation]="DeepseekCore DeepseekTensor DeepseekTracing DeepseekGraph DeepseekNN DeepseekActors DeepseekRuntime DeepseekTraining DeepseekModels DeepseekTraceExport"
)

project_modules=$(ls Sources; echo deepseek)
status=0
for target in Sources/*/; do
  name=$(basename "$target")
  [[ $name == C* ]] && continue
  if [[ ! -v allowed[$name] ]]; then
    echo "layering: target $name has no entry in .ci/check-layering.sh; add its allowed imports" >&2
    status=1
    continue
  fi
  while IFS=: read -r file _ line; do
    module=$(sed -E 's/^[[:space:]]*(@[A-Za-z_]+[[:space:]]+)*((public|package|internal|private|fileprivate)[[:space:]]+)?import[[:space:]]+([A-Za-z0-9_]+).*/\4/' <<<"$line")
    grep -qx "$module" <<<"$project_modules" || continue
    [[ $module == "$name" ]] && continue
    if ! grep -qw -- "$module" <<<"${allowed[$name]}"; then
      echo "layering: $file imports $module, which $name may not import (allowed: ${allowed[$name]:-none})" >&2
      status=1
    fi
  done < <(grep -rnE '^[[:space:]]*(@[A-Za-z_]+[[:space:]]+)*((public|package|internal|private|fileprivate)[[:space:]]+)?import[[:space:]]+' "$target" --include='*.swift' || true)
done
[[ $status == 0 ]] && echo "layering: ok"
exit $status
