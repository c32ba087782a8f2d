// A tiny inline line over evenly spaced values; null breaks the line.
interface Props {
  values: (number | null)[] | undefined;
  label: string;
  tone?: 'neutral' | 'error';
}

const W = 80;
const H = 20;

export function Sparkline({ values, label, tone = 'neutral' }: Props) {
  if (!values || values.length < 2) return <svg class="spark" width={W} height={H} aria-hidden="true" />;
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  const max = Math.max(...finite, 0);
  const min = Math.min(...finite, 0);
  const span = max - min || 1;
  const step = W / (values.length - 1);
  const runs: string[] = [];
  let run: string[] = [];
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      if (run.length) runs.push(run.join(' '));
      run = [];
      return;
    }
    run.push(`${(i * step).toFixed(1)},${(H - 1 - ((v - min) / span) * (H - 2)).toFixed(1)}`);
  });
  if (run.length) runs.push(run.join(' '));
  return (
    <svg class={`spark spark-${tone}`} width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
      {runs.map((points) =>
        points.includes(' ') ? <polyline points={points} /> : <circle cx={points.split(',')[0]} cy={points.split(',')[1]} r="1.2" />,
      )}
    </svg>
  );
}
