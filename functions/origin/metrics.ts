import type { MetricName, MetricSink } from '../../core/metrics';

/**
 * Origin metrics (docs/architecture.md, "Metrics"). The core writes to this small interface; the handler
 * backs it with Powertools EMF (namespace `Keyframe`, dimension `service=origin`) and flushes per invocation.
 */

export type OriginMetricName = MetricName<'origin'>;
export type OriginCountMetric = Exclude<OriginMetricName, 'OriginLatency'>;

export interface OriginMetrics {
  count(name: OriginCountMetric, value?: number): void;
  latency(ms: number): void;
}

/** The origin's metrics on a sink (EMF in AWS, memory locally). */
export function sinkOriginMetrics(metrics: MetricSink): OriginMetrics {
  return {
    count(name, value = 1) {
      metrics.addMetric(name, 'Count', value);
    },
    latency(ms) {
      metrics.addMetric('OriginLatency', 'Milliseconds', ms);
    },
  };
}

/** Counts in memory: for tests and the local stack. */
export interface MemoryMetrics extends OriginMetrics {
  readonly counts: Record<OriginCountMetric, number>;
  readonly latencies: number[];
  reset(): void;
}

export function createMemoryMetrics(): MemoryMetrics {
  const counts: Record<OriginCountMetric, number> = { OriginRequests: 0, Origin4xx: 0, Origin5xx: 0, UpstreamFailures: 0 };
  const latencies: number[] = [];
  return {
    counts,
    latencies,
    count(name, value = 1) {
      counts[name] += value;
    },
    latency(ms) {
      latencies.push(ms);
    },
    reset() {
      for (const k of Object.keys(counts) as OriginCountMetric[]) counts[k] = 0;
      latencies.length = 0;
    },
  };
}
