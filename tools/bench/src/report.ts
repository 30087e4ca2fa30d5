/** The results as Markdown: one table of measurements, one of ratios against the targets. Pure. */
import type { CpuPinning } from './cpu-pinning';
import { PROCESS_ROLES, ProcessRole } from './process-metrics';
import type { BenchResults, Measurement, RatioCheck, Variant } from './results';

const LATENCY_UNIT: Record<NonNullable<Measurement['latencyOf']>, string> = {
  request: 'per request',
  run: 'per model run',
  call: 'per pipeline call',
};

/** 1234.5 -> "1,235"; 52.71 -> "52.7"; 3.14159 -> "3.14" (three significant figures or whole numbers). */
export function formatNumber(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

const percent = (ratio: number | undefined, digits = 1) =>
  ratio === undefined || !Number.isFinite(ratio) ? '–' : `${(ratio * 100).toFixed(digits)} %`;

/** "45 / 12 / 160 / 9" for the roles measured, in PROCESS_ROLES order, "–" where a role is absent. */
function perRole(
  measurement: Measurement,
  pick: (role: ProcessRole) => number | undefined,
  roles: ProcessRole[],
): string {
  if (!measurement.processes) return '–';
  return roles
    .map((role) => {
      const value = pick(role);
      return value === undefined || !Number.isFinite(value) ? '–' : String(Math.round(value));
    })
    .join(' / ');
}

/** Escapes what would break a Markdown table cell. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(headers: string[], rows: string[][]): string {
  const lines = [
    `| ${headers.map(cell).join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ];
  return lines.join('\n');
}

export function measurementTable(measurements: readonly Measurement[]): string {
  const rows = measurements.map((m) => {
    if (m.status !== 'ok') {
      return [
        m.label,
        m.variant,
        '–',
        '–',
        '–',
        '–',
        '–',
        '–',
        '–',
        `${m.status.toUpperCase()}: ${m.note ?? ''}`,
      ];
    }
    const latency = m.latencyMs
      ? `${formatNumber(m.latencyMs.p50)} / ${formatNumber(m.latencyMs.p95)} / ${formatNumber(m.latencyMs.p99)}${m.latencyOf ? ` (${LATENCY_UNIT[m.latencyOf]})` : ''}`
      : '–';
    const usage = (role: ProcessRole) => m.processes?.[role];
    return [
      m.label,
      m.variant,
      String(m.texts ?? '–'),
      formatNumber(m.textsPerSecond),
      formatNumber(m.tokensPerSecond),
      latency,
      percent(m.paddingRatio),
      perRole(
        m,
        (role) => {
          const u = usage(role);
          return u ? u.cpuCores * 100 : undefined;
        },
        [...PROCESS_ROLES],
      ) + ` / ${m.otherCpuCores === undefined ? '–' : Math.round(m.otherCpuCores * 100)}`,
      perRole(m, (role) => usage(role)?.peakRssMb, ['bench', 'gateway', 'worker']),
      m.note ?? '',
    ];
  });
  return markdownTable(
    [
      'measurement',
      'variant',
      'texts',
      'texts/s',
      'tokens/s',
      'latency p50 / p95 / p99 ms',
      'padding',
      'CPU % bench / gateway / worker / redis / others',
      'peak RSS MB bench / gateway / worker',
      'notes',
    ],
    rows,
  );
}

function find(measurements: readonly Measurement[], id: string): Measurement | undefined {
  return measurements.find((m) => m.id === id && m.status === 'ok');
}

function best(measurements: readonly Measurement[], ids: string[]): Measurement | undefined {
  return ids
    .map((id) => find(measurements, id))
    .filter((m): m is Measurement => m?.textsPerSecond !== undefined)
    .sort((a, b) => (b.textsPerSecond ?? 0) - (a.textsPerSecond ?? 0))[0];
}

function throughputRatio(
  name: string,
  numerator: Measurement | undefined,
  denominator: Measurement | undefined,
  minimum?: number,
): RatioCheck {
  if (!numerator || !denominator)
    return {
      name,
      unit: 'ratio',
      target: minimum === undefined ? undefined : `>= ${minimum}`,
      detail: 'not measured in this run',
    };
  const value = (numerator.textsPerSecond ?? NaN) / (denominator.textsPerSecond ?? NaN);
  return {
    name,
    value,
    unit: 'ratio',
    target: minimum === undefined ? undefined : `>= ${minimum}`,
    met: minimum === undefined ? undefined : value >= minimum,
    detail: `${formatNumber(numerator.textsPerSecond)} / ${formatNumber(denominator.textsPerSecond)} texts/s (${numerator.label} / ${denominator.label})`,
  };
}

/** A refusal must be fast: 429s are answered from the gateway without waiting for anything. */
export const OVERLOAD_REFUSED_P99_LIMIT_MS = 500;
export const IDLE_OVERHEAD_LIMIT_MS = 10;
/** CPU used by others during a measurement (in cores) from which the report flags it as disturbed. */
export const DISTURBED_CPU_CORES = 0.15;
/** Issue 13: single requests from 32 clients against the raw ceiling (fp32). */
export const SINGLE_REQUESTS_MIN_RATIO = 0.92;
/** Issue 13: batch requests against raw runs with the worker's own session options. */
export const BATCH_REQUESTS_MIN_RATIO = 0.95;

/**
 * What packing alone would allow single requests (the worker's policy and cost line in a loop where nothing else
 * takes time, tools/bench/src/packing-bound.ts), and how much of it the served path reached: the rest is CPU the
 * gateway, Redis, the load generator and the worker's own thread take from the model.
 */
function packingBoundCheck(single: Measurement | undefined, ceiling: Measurement | undefined): RatioCheck {
  const name =
    "full path (single requests) / what packing alone allows (simulated with the worker's cost line), fp32";
  const bound = Number(single?.extra?.packingBound);
  if (!single || !ceiling || !(bound > 0)) return { name, unit: 'ratio', detail: 'not measured in this run' };
  return {
    name,
    value: (single.textsPerSecond ?? NaN) / (bound * (ceiling.textsPerSecond ?? NaN)),
    unit: 'ratio',
    detail:
      `packing alone allows ${bound.toFixed(2)} of the raw ceiling ` +
      `(${Number(single.extra?.packingBoundTextsPerRun).toFixed(1)} texts per run, ` +
      `${percent(Number(single.extra?.packingBoundPadding))} padding)` +
      waitingDetail(Number(single.extra?.packingBoundWaiting)),
  };
}

function waitingDetail(waiting: number): string {
  return waiting > 0
    ? `; ${waiting.toFixed(2)} if each lane waited, at no cost, for its last run's texts`
    : '';
}

/** Signed over unsigned int8 weights on a CPU with VNNI/AMX (issue 13's acceptance). */
export const INT8_WEIGHTS_MIN_SPEEDUP = 1.7;

/** The comparisons the project tracks, with their targets where it has one. */
export function evaluateChecks(measurements: readonly Measurement[]): RatioCheck[] {
  const checks: RatioCheck[] = [];
  /** The raw rows on the worker's lanes, whichever batch sizes ran. */
  const workerRows = (variant: Variant) =>
    measurements.filter((m) => m.scenario === 'raw' && m.id.endsWith(`-worker:${variant}`)).map((m) => m.id);
  // The best ONNX Runtime does alone on this machine: one session with every thread, or the worker's lanes.
  const ceiling = (variant: Variant) =>
    best(measurements, [`raw-b16:${variant}`, `raw-b32:${variant}`, ...workerRows(variant)]);
  const peer = (variant: Variant) => best(measurements, [`peer-single:${variant}`, `peer-batch:${variant}`]);
  for (const variant of ['fp32', 'int8'] as const) {
    checks.push(
      throughputRatio(
        `full path (batch requests) / raw ceiling, ${variant}`,
        find(measurements, `full-batch:${variant}`),
        ceiling(variant),
        0.9,
      ),
    );
  }
  for (const variant of ['fp32', 'int8'] as const) {
    const workerWay = best(measurements, workerRows(variant));
    checks.push(
      throughputRatio(
        `raw on the worker's lanes / one session with every thread (best batch size of each), ${variant}`,
        workerWay,
        best(measurements, [`raw-b16:${variant}`, `raw-b32:${variant}`]),
      ),
      throughputRatio(
        `full path (batch requests) / raw on the worker's lanes and session options, ${variant}`,
        find(measurements, `full-batch:${variant}`),
        workerWay,
        BATCH_REQUESTS_MIN_RATIO,
      ),
    );
  }
  checks.push(
    throughputRatio(
      'full path (single requests) / raw ceiling, fp32',
      find(measurements, 'full-single:fp32'),
      ceiling('fp32'),
      SINGLE_REQUESTS_MIN_RATIO,
    ),
    packingBoundCheck(find(measurements, 'full-single:fp32'), ceiling('fp32')),
    throughputRatio(
      'producer client (batches) / raw ceiling, fp32',
      find(measurements, 'producer-batch:fp32'),
      ceiling('fp32'),
    ),
    throughputRatio(
      'producer client (single texts) / raw ceiling, fp32',
      find(measurements, 'producer-single:fp32'),
      ceiling('fp32'),
    ),
    throughputRatio(
      'ours (full path, batch) / transformers.js best, fp32',
      find(measurements, 'full-batch:fp32'),
      peer('fp32'),
      1.1,
    ),
    throughputRatio(
      'ours (full path, batch) / transformers.js best, int8',
      find(measurements, 'full-batch:int8'),
      peer('int8'),
      1.3,
    ),
    throughputRatio(
      "ours (single requests) / seed's way, fp32",
      find(measurements, 'full-single:fp32'),
      find(measurements, 'seed:fp32'),
    ),
    throughputRatio(
      "ours (batch requests) / seed's way, fp32",
      find(measurements, 'full-batch:fp32'),
      find(measurements, 'seed:fp32'),
    ),
    throughputRatio(
      "ours (batch requests) / seed's way, int8",
      find(measurements, 'full-batch:int8'),
      find(measurements, 'seed:int8'),
    ),
  );

  const idleHttp = find(measurements, 'idle-http:fp32');
  const idleModel = find(measurements, 'idle-model:fp32');
  if (idleHttp?.latencyMs && idleModel?.latencyMs) {
    const value = idleHttp.latencyMs.p50 - idleModel.latencyMs.p50;
    checks.push({
      name: 'idle single request p50 over the batch-of-one p50, fp32',
      value,
      unit: 'ms',
      target: `<= ${IDLE_OVERHEAD_LIMIT_MS} ms`,
      met: value <= IDLE_OVERHEAD_LIMIT_MS,
      detail: `${formatNumber(idleHttp.latencyMs.p50)} ms vs ${formatNumber(idleModel.latencyMs.p50)} ms`,
    });
    const noSpin = find(measurements, 'idle-model-nospin:fp32');
    if (noSpin?.latencyMs) {
      checks.push({
        name: "idle single request p50 over the batch-of-one p50 with the worker's session options, fp32",
        value: idleHttp.latencyMs.p50 - noSpin.latencyMs.p50,
        unit: 'ms',
        detail: `${formatNumber(idleHttp.latencyMs.p50)} ms vs ${formatNumber(noSpin.latencyMs.p50)} ms: the serving path's own share`,
      });
    }
  } else {
    checks.push({
      name: 'idle single request p50 over the batch-of-one p50, fp32',
      unit: 'ms',
      target: `<= ${IDLE_OVERHEAD_LIMIT_MS} ms`,
      detail: 'not measured in this run',
    });
  }

  // A quiet system (no target): a request after a pause against one right behind another, through the whole path
  // and for the model alone (its first run after a pause is slower: the cores wake up).
  const afterPause = (name: string, paused: Measurement | undefined, backToBack: Measurement | undefined) => {
    if (!paused?.latencyMs || !backToBack?.latencyMs) return;
    checks.push({
      name,
      value: paused.latencyMs.p50 / backToBack.latencyMs.p50,
      unit: 'ratio',
      detail: `p50 ${formatNumber(paused.latencyMs.p50)} ms vs ${formatNumber(backToBack.latencyMs.p50)} ms`,
    });
  };
  afterPause(
    'single request after a pause / back to back, full path, fp32',
    find(measurements, 'sparse-http:fp32'),
    idleHttp,
  );
  afterPause(
    'model alone, batch of one after a pause / back to back (worker session options), fp32',
    find(measurements, 'sparse-model:fp32'),
    find(measurements, 'idle-model-nospin:fp32'),
  );

  const overload = find(measurements, 'overload:fp32');
  const overloadName = 'overload: answered p99 bounded, excess refused with fast 429s';
  if (overload?.latencyMs && overload.extra) {
    const refused = Number(overload.extra.refused ?? 0);
    const refusedP99 = Number(overload.extra.refusedP99Ms);
    const boundMs = Number(overload.extra.boundMs);
    const answeredP99 = overload.latencyMs.p99;
    checks.push({
      name: overloadName,
      value: answeredP99,
      unit: 'ms',
      target: `429s > 0, 429 p99 < ${OVERLOAD_REFUSED_P99_LIMIT_MS} ms, answered p99 <= 2 x (concurrency + depth) / throughput`,
      met: refused > 0 && refusedP99 < OVERLOAD_REFUSED_P99_LIMIT_MS && answeredP99 <= boundMs,
      detail: `${refused} × 429 (p99 ${formatNumber(refusedP99)} ms); ${overload.texts} answered, p99 ${formatNumber(answeredP99)} ms against a bound of ${formatNumber(boundMs)} ms`,
    });
  } else {
    checks.push({ name: overloadName, unit: 'ms', detail: 'not measured in this run' });
  }

  const signed = find(measurements, 'weights-int8:int8');
  const unsigned = find(measurements, 'weights-uint8:int8');
  const weightsCheck = throughputRatio(
    'int8 graph: int8 weights / uint8 weights (raw, same batches, alternating)',
    signed,
    unsigned,
  );
  const vnni = signed?.extra?.int8Flags;
  if (weightsCheck.value !== undefined && typeof vnni === 'string' && vnni !== 'none') {
    // The target holds where the CPU has an int8 dot product; elsewhere uint8 is the right choice anyway.
    weightsCheck.target = `>= ${INT8_WEIGHTS_MIN_SPEEDUP} (CPU with ${vnni})`;
    weightsCheck.met = weightsCheck.value >= INT8_WEIGHTS_MIN_SPEEDUP;
  }
  if (signed?.extra?.perBatchRatioMedian !== undefined) {
    weightsCheck.detail += `; per batch ${Number(signed.extra.perBatchRatioMedian).toFixed(2)}x (median)`;
  }
  checks.push(weightsCheck);

  checks.push(
    throughputRatio(
      'tokenizer: piece cache / the library on whole texts (warm)',
      find(measurements, 'tokenizer-pieces:fp32'),
      find(measurements, 'tokenizer-whole:fp32'),
    ),
  );

  const cacheOff = find(measurements, 'cache-off:fp32');
  const cacheOn = find(measurements, 'cache-on:fp32');
  const cacheCheck = throughputRatio('duplicate workload: cache on / cache off', cacheOn, cacheOff);
  if (cacheOn?.extra) cacheCheck.detail += `; hit ratio ${percent(Number(cacheOn.extra.cacheHitRatio))}`;
  checks.push(cacheCheck);
  return checks;
}

export function checksTable(checks: readonly RatioCheck[]): string {
  return markdownTable(
    ['comparison', 'value', 'target', 'met', 'detail'],
    checks.map((check) => [
      check.name,
      check.value === undefined
        ? '–'
        : check.unit === 'ratio'
          ? `${check.value.toFixed(2)}x`
          : `${formatNumber(check.value)} ms`,
      check.target ?? '',
      check.met === undefined ? '' : check.met ? 'yes' : 'NO',
      check.detail ?? '',
    ]),
  );
}

export function markdownReport(results: BenchResults): string {
  const { machine } = results;
  const pinning = results.settings['pinning'] as CpuPinning | undefined;
  const header =
    `Machine: ${machine.cpuModel}, ${machine.cores} cores; Node ${machine.node}, onnxruntime-node ${machine.onnxruntime}` +
    (machine.cpuFlags
      ? `; CPU flags ${machine.cpuFlags.join(' ')} (int8 dot product: ${machine.int8DotProduct?.join(', ') || 'none'})`
      : '') +
    (machine.transformersJs ? `, @huggingface/transformers ${machine.transformersJs}` : '') +
    `; load average ${machine.loadAverageAtStart.map((n) => n.toFixed(2)).join(' ')} at start` +
    (machine.loadAverageAtEnd
      ? `, ${machine.loadAverageAtEnd.map((n) => n.toFixed(2)).join(' ')} at end`
      : '') +
    (pinning
      ? `; the model on CPU ${pinning.model}, the benchmark, the gateway and Redis on ${pinning.rest}`
      : '') +
    '.\nCPU is process CPU time over wall time in % of one core (200 % = both cores of a 2-core machine); ' +
    '"others" is what the rest of the machine used meanwhile (other processes, hypervisor steal).';
  const rows = results.medians ?? results.measurements;
  const disturbed = results.measurements.filter((m) => (m.otherCpuCores ?? 0) >= DISTURBED_CPU_CORES);
  const warning =
    disturbed.length > 0
      ? `\n**Disturbed:** other processes (or hypervisor steal) used ${DISTURBED_CPU_CORES * 100} % CPU or more during ${disturbed
          .map((m) => (m.round ? `${m.id} (round ${m.round})` : m.id))
          .join(', ')}; those figures are low and ratios across them unreliable.\n`
      : '';
  const measured = results.checks.filter((check) => check.value !== undefined);
  const open = results.checks.length - measured.length;
  const footer = open > 0 ? `\n(${open} more comparisons need scenarios this run left out.)\n` : '';
  const rounds = results.medians
    ? `\nEach row is the round with the median rate, each comparison the round with its median value (--rounds).\n`
    : '';
  return `${header}\n${rounds}\n${measurementTable(rows)}\n\n${checksTable(measured)}\n${footer}${warning}`;
}
