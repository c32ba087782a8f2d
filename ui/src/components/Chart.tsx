// A uPlot time-series chart that follows its container's width.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
  points?: boolean; // points only, no line (a scatter)
}

interface Props {
  title: string;
  times: number[]; // Unix seconds, ascending
  series: ChartSeries[];
  format: (v: number | null) => string;
  height?: number;
  yMin?: number;
  onPick?: (index: number, series: number) => void;
}

// A value with no neighbour draws no line: show the points then.
function hasIsolated(values: (number | null)[]): boolean {
  return values.some((v, i) => v !== null && (values[i - 1] ?? null) === null && (values[i + 1] ?? null) === null);
}

export function Chart({ title, times, series, format, height = 180, yMin, onPick }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const pick = useRef(onPick);
  pick.current = onPick;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const scatter = series.some((s) => s.points);
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 7 }, focus: { prox: 16 } },
      scales: {
        // A little room right of the newest point, so a point there is not cut in half.
        x: { time: true, range: (_u, min, max) => [min, max + Math.max((max - min) * 0.02, 1)] },
        y: { range: (_u, min, max) => [yMin ?? Math.min(0, min), max > (yMin ?? 0) ? max * 1.08 : 1] } },
      axes: [
        { stroke: '#5b6270', grid: { stroke: '#eceef1' }, ticks: { stroke: '#d9dce1' } },
        {
          stroke: '#5b6270',
          grid: { stroke: '#eceef1' },
          ticks: { stroke: '#d9dce1' },
          size: 64,
          values: (_u, splits) => splits.map((v) => format(v)),
        },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          spanGaps: false,
          value: (_u: uPlot, v: number | null) => format(v),
          ...(s.points
            ? { paths: () => null, points: { show: true, size: 6, fill: s.color, stroke: s.color } }
            : { points: { show: hasIsolated(s.values), size: 6, fill: s.color } }),
        })),
      ],
    };
    if (scatter) opts.focus = { alpha: 0.6 };
    const data = [times, ...series.map((s) => s.values)] as uPlot.AlignedData;
    const plot = new uPlot(opts, data, el);
    const onClick = () => {
      const idx = plot.cursor.idx;
      if (idx === null || idx === undefined || !pick.current) return;
      const focused = plot.series.findIndex((s, i) => i > 0 && (s as { _focus?: boolean })._focus);
      pick.current(idx, focused > 0 ? focused - 1 : 0);
    };
    plot.over.addEventListener('click', onClick);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 200), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, series, height, yMin, format]);

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-plot" role="img" aria-label={title} />
    </figure>
  );
}
