import type { Job } from 'bullmq';
import { scheduledFor } from './drift-scheduler';

describe('scheduledFor', () => {
  it('is the cron tick BullMQ scheduled the job for, not when it ran', () => {
    const job = { opts: { prevMillis: 1_800_000 }, timestamp: 1_000, delay: 5 } as unknown as Job;
    expect(scheduledFor(job)).toBe(1_800_000);
  });

  it('falls back to creation time plus delay', () => {
    const job = { opts: {}, timestamp: 1_000, delay: 500 } as unknown as Job;
    expect(scheduledFor(job)).toBe(1_500);
  });
});
