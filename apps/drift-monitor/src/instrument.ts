// Imported first by main.ts: tracing must start before the app loads `http` (a no-op without an OTLP endpoint).
import { startTracing } from '@reputation-monitor/observability';

startTracing('drift-monitor');
