// Validates Kubernetes manifests against the API's schemas, offline, with kubernetes-models
// (core and apps objects) and @kubernetes-models/prometheus-operator (ServiceMonitor).
//   node validate.mjs FILE.yaml...
// Prints one line per object, "ok KIND NAMESPACE/NAME" or "invalid KIND NAME: reason"; exits 1 when
// any object is invalid or unknown, 2 on a file that is not YAML.
import { readFileSync } from "node:fs";
import yaml from "js-yaml";

// apiVersion -> the module exporting its kinds
function moduleFor(apiVersion) {
  if (apiVersion === "monitoring.coreos.com/v1")
    return "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
  if (!/^[a-z0-9.]*\/?v[0-9a-z]+$/.test(apiVersion)) return null;
  return apiVersion.includes("/") ? `kubernetes-models/${apiVersion}` : `kubernetes-models/${apiVersion}`;
}

let bad = 0;
for (const file of process.argv.slice(2)) {
  let docs;
  try {
    docs = yaml.loadAll(readFileSync(file, "utf8"));
  } catch (e) {
    console.log(`${file}: not YAML: ${e.message.split("\n")[0]}`);
    process.exit(2);
  }
  for (const doc of docs) {
    if (doc === null || doc === undefined) continue;
    const what = `${doc.kind} ${doc.metadata?.namespace ?? ""}/${doc.metadata?.name ?? "?"}`;
    const mod = moduleFor(String(doc.apiVersion ?? ""));
    let Kind;
    try {
      Kind = mod && (await import(mod))[doc.kind];
    } catch {
      Kind = undefined;
    }
    if (!Kind) {
      console.log(`${file}: unknown ${doc.apiVersion} ${doc.kind}`);
      bad++;
      continue;
    }
    try {
      new Kind(doc).validate();
      console.log(`${file}: ok ${what}`);
    } catch (e) {
      console.log(`${file}: invalid ${what}: ${String(e.message ?? e).replace(/\s+/g, " ").slice(0, 400)}`);
      bad++;
    }
  }
}
process.exit(bad ? 1 : 0);
