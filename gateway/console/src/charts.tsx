import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { MetricsSample } from './types.js';

type Pick = (s: MetricsSample) => number | null;

interface ChartProps {
  title: string;
  samples: MetricsSample[];
  series: { label: string; value: Pick; color: string }[];
}

/** One small uPlot chart; rebuilt data on every sample, the plot object kept. */
export function Chart({ title, samples, series }: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot>();
  const data = (): uPlot.AlignedData => [
    samples.map((s) => s.t / 1000),
    ...series.map((x) => samples.map((s) => x.value(s))),
  ];
  useEffect(() => {
    if (!host.current) return;
    plot.current = new uPlot(
      {
        width: 360,
        height: 160,
        series: [{}, ...series.map((x) => ({ label: x.label, stroke: x.color, width: 1.5 }))],
        axes: [{}, { size: 50 }],
      },
      data(),
      host.current,
    );
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => {
    plot.current?.setData(data());
  }, [samples]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={host} />
    </figure>
  );
}

export function Charts({ samples }: { samples: MetricsSample[] }) {
  return (
    <section class="panel" id="charts">
      <h2>Traffic</h2>
      {samples.length === 0 ? <p class="muted">Waiting for the first samples…</p> : <Now s={samples.at(-1)!} />}
      <div class="charts">
        <Chart
          title="Requests / s"
          samples={samples}
          series={[
            { label: 'all', value: (s) => s.requestRate, color: '#2563eb' },
            { label: 'rpc', value: (s) => s.rpcRate, color: '#16a34a' },
          ]}
        />
        <Chart title="Request latency, ms" samples={samples} series={latency('request')} />
        <Chart title="RPC latency, ms" samples={samples} series={latency('rpc')} />
      </div>
    </section>
  );
}

function latency(kind: 'request' | 'rpc'): ChartProps['series'] {
  return [
    { label: 'p50', value: (s) => s[`${kind}P50`], color: '#16a34a' },
    { label: 'p95', value: (s) => s[`${kind}P95`], color: '#d97706' },
    { label: 'p99', value: (s) => s[`${kind}P99`], color: '#dc2626' },
  ];
}

const ms = (v: number | null) => (v === null ? '–' : `${v.toFixed(1)} ms`);

/** The latest sample in words (the charts' last point). */
function Now({ s }: { s: MetricsSample }) {
  return (
    <p id="traffic-now">
      now: {s.requestRate.toFixed(1)} req/s (p50 {ms(s.requestP50)}, p95 {ms(s.requestP95)}, p99 {ms(s.requestP99)}
      ); RPC {s.rpcRate.toFixed(1)} req/s (p95 {ms(s.rpcP95)})
    </p>
  );
}
