#!/usr/bin/env bash
# The software bill of materials of what `kto` runs with: `npm sbom --omit dev --sbom-format
# cyclonedx` over the production dependency tree of package-lock.json, as CycloneDX JSON.
#   hack/sbom.sh               # writes kubelet-tracing-operator.cdx.json
#   hack/sbom.sh OUT.json      # writes OUT.json ("-" for stdout)
#
# npm's --omit dev also drops production packages that a dev dependency shares (ajv, its
# dependencies: npm/cli#7909). So the SBOM is taken in a staging directory whose package.json has
# no devDependencies and whose lockfile npm has pruned to match (from the lockfile alone: no
# download, no install); --omit dev then has nothing left to get wrong.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-kubelet-tracing-operator.cdx.json}"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
node -e '
  const pkg = JSON.parse(require("node:fs").readFileSync("package.json", "utf8"));
  delete pkg.devDependencies;
  delete pkg.scripts;
  require("node:fs").writeFileSync(process.argv[1] + "/package.json", JSON.stringify(pkg, null, 2));
' "$stage"
cp package-lock.json "$stage/"
(cd "$stage" && npm install --package-lock-only --prefer-offline --ignore-scripts --no-audit --no-fund >/dev/null)
# npm names the root component after the directory: put the package's name back.
sbom=$(cd "$stage" && npm sbom --omit dev --sbom-format cyclonedx --sbom-type application --package-lock-only | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const bom = JSON.parse(s);
    bom.metadata.component.name = JSON.parse(require("node:fs").readFileSync("package.json", "utf8")).name;
    process.stdout.write(JSON.stringify(bom, null, 2) + "\n");
  });')
if [ "$out" = "-" ]; then
  printf '%s\n' "$sbom"
else
  printf '%s\n' "$sbom" > "$out"
  echo "wrote $out ($(grep -c '"bom-ref"' "$out") entries)" >&2
fi
