// Reads POST /api/run's compact encoding (application/vnd.gatescope.run, laid out in
// app/web/compact.py) back into the object the JSON answer gives: arrays of arrays of numbers.
// float16 is converted by hand: Float16Array is not in every browser the page supports.

export const MEDIA_TYPE = "application/vnd.gatescope.run";

// Every float16 bit pattern as a number, built once on first use (65,536 entries, 256 KB).
let HALF = null;

function halfTable() {
  if (HALF) return HALF;
  HALF = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) HALF[bits] = halfToNumber(bits);
  return HALF;
}

// One IEEE 754 binary16 value: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
export function halfToNumber(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const SIZE = { float16: 2, float32: 4, float64: 8 };

// One flat array of `count` values of `dtype` at byte `offset` of `view`, as plain numbers.
function values(view, dtype, offset, count) {
  const out = new Array(count);
  if (dtype === "float16") {
    const table = halfTable();
    for (let k = 0; k < count; k++) out[k] = table[view.getUint16(offset + 2 * k, true)];
  } else if (dtype === "float32") {
    for (let k = 0; k < count; k++) out[k] = view.getFloat32(offset + 4 * k, true);
  } else if (dtype === "float64") {
    for (let k = 0; k < count; k++) out[k] = view.getFloat64(offset + 8 * k, true);
  } else {
    throw new Error(`a compact answer with an array of ${dtype}, which this page cannot read`);
  }
  return out;
}

// Cut a flat array into nested arrays of `shape` (C order).
function nest(flat, shape, start = 0) {
  if (shape.length <= 1) return shape.length ? flat.slice(start, start + shape[0]) : flat[start];
  const [n, ...rest] = shape;
  const step = rest.reduce((a, b) => a * b, 1);
  const out = new Array(n);
  for (let k = 0; k < n; k++) out[k] = nest(flat, rest, start + k * step);
  return out;
}

// buffer: an ArrayBuffer of the whole answer; returns the answer as its JSON would be.
export function decodeRun(buffer) {
  const view = new DataView(buffer);
  const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
  if (magic !== "GSR1") throw new Error("the server's compact answer does not start with GSR1");
  const length = view.getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, length)));
  const start = 8 + length;
  const arrays = header.arrays.map((spec) => {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    if (start + spec.offset + count * SIZE[spec.dtype] > buffer.byteLength) {
      throw new Error("the server's compact answer is cut short");
    }
    return nest(values(view, spec.dtype, start + spec.offset, count), spec.shape);
  });
  const walk = (value) => {
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== "object") return value;
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$array") return arrays[value.$array];
    return Object.fromEntries(keys.map((k) => [k, walk(value[k])]));
  };
  const answer = walk(header.body);
  // The page can say how exact its numbers are: float16 holds about 3 significant digits and a half.
  Object.defineProperty(answer, "precision", {
    value: header.arrays.some((a) => a.dtype === "float16") ? "float16" : "exact",
    enumerable: false,
  });
  return answer;
}
