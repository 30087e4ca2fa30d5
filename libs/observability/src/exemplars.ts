import { Span, trace } from '@opentelemetry/api';
import { Histogram, HistogramConfiguration, Registry, RegistryContentType } from 'prom-client';
import { tracingEnabled } from './tracing';

/**
 * A prom-client histogram that, while tracing is on, keeps the trace id of an observation as its bucket's
 * exemplar (OpenMetrics), so a slow bucket in Grafana opens a trace of that slowness. Written here because
 * prom-client knows nothing of OpenTelemetry and changes `observe`'s signature when exemplars are on.
 * With tracing off it is the plain histogram.
 */
export class TracedHistogram<Label extends string> {
  private readonly histogram: Histogram<Label>;
  private readonly exemplars = tracingEnabled();

  /** `registers`: the app's registry (createAppRegistry), never prom-client's global one. */
  constructor(config: HistogramConfiguration<Label> & { registers: Registry[] }) {
    // prom-client accepts exemplars only on OpenMetrics registries: switch them first.
    if (this.exemplars) for (const registry of config.registers) exposeExemplars(registry);
    this.histogram = new Histogram({ ...config, enableExemplars: this.exemplars });
  }

  /** `span`: the one the observation belongs to (the active one by default). */
  observe(
    labels: Partial<Record<Label, string>>,
    seconds: number,
    span: Span | undefined = trace.getActiveSpan(),
  ): void {
    if (!this.exemplars) {
      this.histogram.observe(labels, seconds);
      return;
    }
    const context = span?.spanContext();
    this.histogram.observe({
      labels,
      value: seconds,
      // prom-client types exemplar labels like series labels; its exemplars take any label names.
      exemplarLabels: (context ? { trace_id: context.traceId } : {}) as Partial<Record<Label, string>>,
    });
  }
}

/** Exemplars are only exposed in the OpenMetrics format: switch a registry to it while tracing is on. */
function exposeExemplars(registry: Registry<RegistryContentType>): void {
  if (tracingEnabled()) registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
}
