// The colour scales' ranges: a panel's fixed range, and the cell state's (robust, per unit or the
// layer's whole range), with the cells beyond a scale. Presentation only: no LSTM math.

// The ends of a panel's colour scale: its fixed range, or for "symmetric" (the cell state, which
// is unbounded) ±(largest |value| in the layer, at least 1), so that 0 is always white.
export function colourRange(spec, layer) {
  if (spec.range !== "symmetric") return spec.range;
  const most = Math.max(1, ...layer[spec.key].map((row) => Math.max(...row.map(Math.abs))));
  return [-most, most];
}

// The scales the cell state can be drawn on (URL key `scale`); robust unless the URL says.
export const C_SCALES = {
  robust: "robust: ±the 99th percentile of |c|, outlying units left out; cells beyond it clipped (dotted)",
  unit: "per unit: each row on its own ±largest |c|",
  fixed: "the layer's whole range: ±its largest |c| (at least 1)",
};
export const OUTLIER = 3; // a unit whose 99th-percentile |c| is over 3 × the median unit's is an outlier

// The q-quantile of ascending numbers, linearly interpolated (numpy's default).
function quantile(sorted, q) {
  const x = (sorted.length - 1) * q;
  const j = Math.floor(x);
  return j + 1 < sorted.length ? sorted[j] + (sorted[j + 1] - sorted[j]) * (x - j) : sorted[j];
}

// The colour scale of a symmetric panel (c) on `scale`: {lo, hi, unitHi, scale}. robust: each
// unit's 99th percentile of |c| over the steps; units more than OUTLIER × the median of those are
// left out, and the largest of the rest is the range, so that one unit of |c| = 9 cannot wash out
// units that stay within ±1 (its cells are clipped and marked). unit: ±each unit's own largest |c|.
// fixed: today's ±(largest |c| in the layer, at least 1). Presentation only: no LSTM math.
export function cScale(values, scale = "robust") {
  if (scale === "fixed") {
    const [lo, hi] = colourRange({ range: "symmetric", key: "v" }, { v: values });
    return { lo, hi, unitHi: null, scale };
  }
  const H = values[0].length;
  const peaks = [];
  const p99 = [];
  for (let u = 0; u < H; u++) {
    const column = values.map((row) => Math.abs(row[u])).sort((a, b) => a - b);
    peaks.push(column[column.length - 1]);
    p99.push(quantile(column, 0.99));
  }
  if (scale === "unit") {
    return { lo: -1, hi: 1, unitHi: peaks.map((m) => m || 1), scale };
  }
  const median = quantile([...p99].sort((a, b) => a - b), 0.5);
  const kept = p99.filter((m) => m <= OUTLIER * median);
  const most = Math.max(...(kept.length ? kept : p99));
  const hi = most > 0 ? most : 1;
  return { lo: -hi, hi, unitHi: null, scale: "robust" };
}

// The cells beyond a scale, as [t, row] pairs (rows in the order drawn).
export function clippedCells(values, { lo, hi, unitHi }, rows = null) {
  const out = [];
  const H = rows ? rows.length : values[0].length;
  for (let row = 0; row < H; row++) {
    const u = rows ? rows[row] : row;
    const [a, b] = unitHi ? [-unitHi[u], unitHi[u]] : [lo, hi];
    for (let t = 0; t < values.length; t++) {
      const v = values[t][u];
      if (v > b || v < a) out.push([t, row]);
    }
  }
  return out;
}
