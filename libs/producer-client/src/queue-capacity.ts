/**
 * Backpressure for one producer: whether one more job may join the waiting ones. A reading of the waiting
 * count is reused for `cacheMs`; what this producer added since the reading, and what it is adding right now,
 * is counted on top of it. Slots are taken synchronously after the reading, so concurrent enqueues of one
 * process cannot all pass one reading (256 clients released together once overshot a depth of 8 by hundreds).
 * The estimate only errs high (jobs the workers took since the reading are still counted), so a refusal is
 * decided on a fresh reading, shared by every caller that needs one at that moment.
 */
export interface DepthReading {
  depth: number;
  at: number;
  /** Jobs this producer added after the reading was taken. */
  addedSince: number;
}

export class QueueCapacity {
  private reading: DepthReading | undefined;
  private freshRead: Promise<DepthReading> | undefined;
  private adding = 0;

  constructor(
    private readonly maxDepth: number,
    private readonly cacheMs: number,
    private readonly readDepth: () => Promise<number>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Takes a slot for one job or returns the depth estimate that refuses it. Call `release` once the add is
   * done (whatever its outcome) when a slot was taken.
   */
  async reserve(): Promise<{ reserved: true } | { reserved: false; depth: number }> {
    if (this.maxDepth <= 0) return { reserved: true };
    // The estimate and the slot in one synchronous step, so concurrent callers cannot pass one estimate.
    const depth = this.estimate(await this.decidingReading());
    if (depth >= this.maxDepth) return { reserved: false, depth };
    this.adding += 1;
    return { reserved: true };
  }

  /**
   * The depth estimate that would refuse a job now (decided as `reserve` decides), or undefined when there is
   * room. Takes no slot: for refusing work early, before paying for it; the enqueue still reserves its own.
   */
  async refusal(): Promise<number | undefined> {
    if (this.maxDepth <= 0) return undefined;
    const depth = this.estimate(await this.decidingReading());
    return depth >= this.maxDepth ? depth : undefined;
  }

  /** Gives a slot back; `added` when the job was stored. */
  release(added: boolean): void {
    if (this.maxDepth <= 0) return;
    this.adding = Math.max(0, this.adding - 1);
    if (added && this.reading) this.reading.addedSince += 1;
  }

  /** Jobs waiting, read from Redis at most once per `cacheMs` (without the producer's own additions). */
  async waitingDepth(): Promise<number> {
    return (await this.cached()).depth;
  }

  /** The reading to decide on: the cached one, or a fresh one when the cached one would refuse. */
  private async decidingReading(): Promise<DepthReading> {
    const cachedReading = this.reading;
    const reading = await this.cached();
    // Refuse only on a reading taken for this decision: an older one still counts jobs workers took since.
    if (this.estimate(reading) >= this.maxDepth && reading === cachedReading) return this.fresh();
    return reading;
  }

  private estimate(reading: DepthReading): number {
    return reading.depth + reading.addedSince + this.adding;
  }

  private async cached(): Promise<DepthReading> {
    const reading = this.reading;
    if (reading && this.now() - reading.at < this.cacheMs) return reading;
    return this.fresh();
  }

  /** One Redis read shared by every caller waiting for it. */
  private fresh(): Promise<DepthReading> {
    this.freshRead ??= this.readDepth()
      .then((depth) => {
        this.reading = { depth, at: this.now(), addedSince: 0 };
        return this.reading;
      })
      .finally(() => {
        this.freshRead = undefined;
      });
    return this.freshRead;
  }
}
