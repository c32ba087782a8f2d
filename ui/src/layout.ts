// A small deterministic force layout for the service graph: nodes repel,
// edges pull like springs, and each node is drawn towards the column of its
// depth in the call graph so calls read left to right.

export interface Placed {
  id: string;
  x: number;
  y: number;
}

export function layoutGraph(ids: string[], edges: [string, string][], width: number, height: number): Map<string, Placed> {
  const index = new Map(ids.map((id, i) => [id, i]));
  const links = edges.filter(([a, b]) => index.has(a) && index.has(b) && a !== b).map(([a, b]) => [index.get(a)!, index.get(b)!]);

  // Depth: longest path from a node nobody calls (cycles are cut by the bound).
  const depth = new Array(ids.length).fill(0);
  for (let round = 0; round < ids.length; round++) {
    let changed = false;
    for (const [a, b] of links) {
      if (depth[b] < depth[a] + 1 && depth[a] + 1 < ids.length) {
        depth[b] = depth[a] + 1;
        changed = true;
      }
    }
    if (!changed) break;
  }
  const maxDepth = Math.max(0, ...depth);
  const margin = 90;
  const columnX = (d: number) => (maxDepth === 0 ? width / 2 : margin + (d / maxDepth) * (width - 2 * margin));

  // Start each column's nodes spread evenly down it.
  const perColumn = new Map<number, number[]>();
  depth.forEach((d, i) => perColumn.set(d, [...(perColumn.get(d) ?? []), i]));
  const x = new Array<number>(ids.length);
  const y = new Array<number>(ids.length);
  for (const [d, members] of perColumn) {
    members.forEach((i, k) => {
      x[i] = columnX(d);
      y[i] = ((k + 1) / (members.length + 1)) * height;
    });
  }

  const ideal = Math.min(width, height) / 3;
  for (let iter = 0; iter < 300; iter++) {
    const cool = 1 - iter / 300;
    const fx = new Array(ids.length).fill(0);
    const fy = new Array(ids.length).fill(0);
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        let dx = x[i] - x[j];
        let dy = y[i] - y[j];
        let d2 = dx * dx + dy * dy;
        if (d2 < 1) {
          dx = 1;
          dy = (i - j) * 0.5;
          d2 = 1;
        }
        const f = (ideal * ideal) / d2;
        fx[i] += dx * f * 0.05;
        fy[i] += dy * f * 0.05;
        fx[j] -= dx * f * 0.05;
        fy[j] -= dy * f * 0.05;
      }
    }
    for (const [a, b] of links) {
      const dx = x[b] - x[a];
      const dy = y[b] - y[a];
      const d = Math.sqrt(dx * dx + dy * dy) || 1;
      const f = ((d - ideal) / d) * 0.1;
      fx[a] += dx * f;
      fy[a] += dy * f;
      fx[b] -= dx * f;
      fy[b] -= dy * f;
    }
    for (let i = 0; i < ids.length; i++) {
      fx[i] += (columnX(depth[i]) - x[i]) * 0.3;
      fy[i] += (height / 2 - y[i]) * 0.01;
      const step = Math.min(Math.hypot(fx[i], fy[i]), 30 * cool + 1);
      const norm = Math.hypot(fx[i], fy[i]) || 1;
      x[i] = Math.min(width - margin / 2, Math.max(margin / 2, x[i] + (fx[i] / norm) * step));
      y[i] = Math.min(height - 45, Math.max(30, y[i] + (fy[i] / norm) * step));
    }
  }
  return new Map(ids.map((id, i) => [id, { id, x: x[i], y: y[i] }]));
}
