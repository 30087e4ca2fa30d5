import { Inject, Injectable } from '@nestjs/common';
import {
  FeedbackRecord,
  FieldError,
  LabelledExample,
  SENTIMENT_LABELS,
  SentimentLabel,
  clientIdProblem,
  clientSourceProblem,
  parseLabel,
  scopedPredictionId,
  textProblem,
} from '@reputation-monitor/contracts';
import { SentimentProducer } from '@reputation-monitor/producer-client';
import { ExampleBuffer, ExampleStatus, FeedbackStore, exampleId } from '@reputation-monitor/prediction-store';
import { validationProblem } from '@reputation-monitor/http-edge';
import { GATEWAY_CONFIG } from '../tokens';
import type { GatewayConfig } from '../gateway-config';

export type FeedbackStatus = 'stored' | 'replaced' | 'not_found';

/** Whether the labelled text was kept for retraining, and if not why. */
export type ExampleOutcome =
  { id: string; status: ExampleStatus } | { id: null; status: 'no_text'; reason: string };

export interface FeedbackResult {
  id: string;
  status: FeedbackStatus;
  label?: SentimentLabel;
  predicted?: SentimentLabel;
  modelVersion?: string;
  /** The labelled example kept for retraining (absent for not_found). */
  example?: ExampleOutcome;
}

export interface FeedbackItem {
  id: unknown;
  label: unknown;
  text?: unknown;
}

export interface ExampleItem {
  text: unknown;
  label: unknown;
  source?: unknown;
}

export interface ExampleResult {
  id: string;
  status: ExampleStatus;
  label: SentimentLabel;
}

const ALLOWED = `must be one of ${SENTIMENT_LABELS.join(', ')} (any case) or 0, 1, 2`;

/**
 * Human labels: feedback on earlier predictions (kept for the drift monitor's quality measures, and with
 * their text as labelled examples for retraining) and labelled texts imported directly.
 */
@Injectable()
export class FeedbackService {
  constructor(
    private readonly producer: SentimentProducer,
    private readonly feedback: FeedbackStore,
    private readonly examples: ExampleBuffer,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /**
   * Validates every item (422 naming each field), then stores those whose prediction is known within the
   * caller's tenant (another tenant's prediction is not_found, like an unknown one). The text comes with the
   * item or, when absent, from the job while it is kept.
   */
  async submit(
    items: readonly FeedbackItem[],
    fieldPrefix: (index: number) => string,
    tenant: string | undefined,
  ): Promise<FeedbackResult[]> {
    const errors: FieldError[] = [];
    const labels = items.map((item, index) => {
      const idIssue = clientIdProblem(item.id);
      if (idIssue) errors.push({ field: `${fieldPrefix(index)}id`, message: idIssue });
      if (item.text !== undefined) {
        const textIssue = textProblem(item.text, this.config.maxTextChars);
        if (textIssue) errors.push({ field: `${fieldPrefix(index)}text`, message: textIssue });
      }
      return this.label(item.label, `${fieldPrefix(index)}label`, errors);
    });
    if (errors.length > 0) throw validationProblem(errors);

    const ids = items.map((item) => item.id as string);
    const scopedIds = ids.map((id) => scopedPredictionId(tenant, id));
    const predictions = await this.feedback.lookUp(scopedIds, this.config.predictionIndexHours);
    const now = Date.now();
    const found = items.flatMap((item, index) => {
      const prediction = predictions[index];
      if (!prediction) return [];
      const record: FeedbackRecord = {
        id: scopedIds[index],
        label: labels[index]!,
        predicted: prediction.label,
        modelVersion: prediction.modelVersion,
        predictedAt: prediction.at,
        at: now,
      };
      return [
        {
          index,
          record,
          clientId: ids[index],
          text: item.text as string | undefined,
          jobId: prediction.jobId,
        },
      ];
    });
    const replaced = await this.feedback.save(
      found.map((entry) => entry.record),
      this.config.feedbackTtlSeconds,
      this.config.feedbackMaxRecords,
    );
    const outcomes = await this.keepExamples(found, now, tenant);

    const results: FeedbackResult[] = ids.map((id) => ({ id, status: 'not_found' }));
    found.forEach(({ index, record, clientId }, position) => {
      results[index] = {
        id: clientId,
        status: replaced[position] ? 'replaced' : 'stored',
        label: record.label,
        predicted: record.predicted,
        modelVersion: record.modelVersion,
        example: outcomes[position],
      };
    });
    return results;
  }

  /** Imports labelled texts that were never predicted (e.g. from an annotation tool). */
  async importExamples(
    items: readonly ExampleItem[],
    fieldPrefix: (index: number) => string,
    tenant: string | undefined,
  ): Promise<ExampleResult[]> {
    const errors: FieldError[] = [];
    // One labelling time per request, as for feedback: a batch is labelled at once, and the retrainer's
    // holdout (the newest share by time, ties by id) must not depend on where a millisecond fell in the loop.
    const now = Date.now();
    const examples = items.map((item, index): LabelledExample | undefined => {
      const textIssue = textProblem(item.text, this.config.maxTextChars);
      if (textIssue) errors.push({ field: `${fieldPrefix(index)}text`, message: textIssue });
      const label = this.label(item.label, `${fieldPrefix(index)}label`, errors);
      if (item.source !== undefined) {
        const sourceIssue = clientSourceProblem(item.source);
        if (sourceIssue) errors.push({ field: `${fieldPrefix(index)}source`, message: sourceIssue });
      }
      if (textIssue || !label) return undefined;
      const text = item.text as string;
      return {
        id: exampleId(text),
        text,
        label,
        source: (item.source as string | undefined) ?? '',
        origin: 'import',
        at: now,
        ...(tenant !== undefined && { tenant }),
      };
    });
    if (errors.length > 0) throw validationProblem(errors);
    const kept = examples as LabelledExample[];
    const statuses = await this.examples.add(kept);
    return kept.map((example, index) => ({ id: example.id, status: statuses[index], label: example.label }));
  }

  private label(value: unknown, field: string, errors: FieldError[]): SentimentLabel | undefined {
    const label = parseLabel(value);
    if (!label) errors.push({ field, message: `${ALLOWED}, got ${JSON.stringify(value)}` });
    return label;
  }

  /** Labelled examples from feedback: the given text, else the job's, while the job is kept. */
  private async keepExamples(
    found: ReadonlyArray<{
      record: FeedbackRecord;
      clientId: string;
      text: string | undefined;
      jobId: string | undefined;
    }>,
    now: number,
    tenant: string | undefined,
  ): Promise<ExampleOutcome[]> {
    const jobs = new Map<string, Promise<Awaited<ReturnType<SentimentProducer['jobItems']>>>>();
    const examples = await Promise.all(
      found.map(async ({ record, clientId, text, jobId }): Promise<LabelledExample | string> => {
        let source = '';
        if (text === undefined) {
          if (jobId === undefined) return 'no text given, and the prediction does not name its job';
          if (!jobs.has(jobId)) jobs.set(jobId, this.producer.jobItems(jobId, tenant));
          const job = await jobs.get(jobId);
          text = job?.items.find((item) => item.id === clientId)?.text;
          if (text === undefined) return 'no text given, and the job is no longer kept';
          source = job?.source ?? '';
        }
        return {
          id: exampleId(text),
          text,
          label: record.label,
          source,
          origin: 'feedback',
          at: now,
          predictionId: record.id,
          predicted: record.predicted,
          modelVersion: record.modelVersion,
          ...(tenant !== undefined && { tenant }),
        };
      }),
    );
    const kept = examples.filter((example): example is LabelledExample => typeof example !== 'string');
    const statuses = await this.examples.add(kept);
    let next = 0;
    return examples.map((example) =>
      typeof example === 'string'
        ? { id: null, status: 'no_text', reason: example }
        : { id: example.id, status: statuses[next++] },
    );
  }
}
