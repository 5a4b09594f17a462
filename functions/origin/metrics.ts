import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * Origin metrics (docs/architecture.md, "Metrics"). The core writes to this small interface; the handler
 * backs it with Powertools EMF (namespace `Keyframe`, dimension `service=origin`) and flushes per invocation.
 */

export type OriginCountMetric = 'OriginRequests' | 'Origin4xx' | 'Origin5xx' | 'UpstreamFailures';
export type OriginMetricName = OriginCountMetric | 'OriginLatency';

export interface OriginMetrics {
  count(name: OriginCountMetric, value?: number): void;
  latency(ms: number): void;
}

export const METRICS_NAMESPACE = 'Keyframe';
export const METRICS_SERVICE = 'origin';

export function createPowertoolsMetrics(): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
}

export function powertoolsOriginMetrics(metrics: Metrics): OriginMetrics {
  return {
    count(name, value = 1) {
      metrics.addMetric(name, MetricUnit.Count, value);
    },
    latency(ms) {
      metrics.addMetric('OriginLatency', MetricUnit.Milliseconds, ms);
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
