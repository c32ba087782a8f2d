// Prints the gzipped size of every file of the build and fails past the
// budget: sluice embeds these bytes in its binary.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET = 300 * 1024;
const root = process.env.SLUICE_UI_OUT_DIR || new URL('../dist', import.meta.url).pathname;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

let total = 0;
for (const path of files(root).sort()) {
  const gz = gzipSync(readFileSync(path), { level: 9 }).length;
  total += gz;
  console.log(`${relative(root, path).padEnd(40)} ${(gz / 1024).toFixed(1).padStart(7)} KiB gzipped`);
}
console.log(`total ${(total / 1024).toFixed(1)} KiB gzipped (budget ${BUDGET / 1024} KiB)`);
if (total > BUDGET) {
  console.error('the UI is over its size budget');
  process.exit(1);
}
