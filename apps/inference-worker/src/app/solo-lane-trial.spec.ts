import { LoneRunTimes, SoloLaneTrial } from './solo-lane-trial';

type Verdict = { kept: boolean; fastest: LoneRunTimes; error?: Error };

/** A trial whose timings are `answers` in turn (undefined: the model was busy), 1 ms apart. */
function trial(atLoad: LoneRunTimes, answers: Array<LoneRunTimes | undefined | Error>, delaysMs = [1, 1, 1]) {
  let checks = 0;
  let settle: (verdict: Verdict) => void = () => undefined;
  const verdict = new Promise<Verdict>((resolve) => (settle = resolve));
  const started = new SoloLaneTrial(atLoad, {
    delaysMs,
    check: async () => {
      const answer = answers[checks++];
      if (answer instanceof Error) throw answer;
      return answer;
    },
    onVerdict: (kept, fastest, error) => settle({ kept, fastest, error }),
  });
  return { started, verdict, checks: () => checks };
}

const busyCore = { soloMs: 38, laneMs: 37 };

describe('SoloLaneTrial', () => {
  it('keeps the solo lane at the first timing where the fastest times seen show it paying', async () => {
    const { verdict, checks } = trial(busyCore, [
      { soloMs: 40, laneMs: 30 },
      { soloMs: 25, laneMs: 36 },
      { soloMs: 20, laneMs: 20 },
    ]);
    // 25 against the fastest lane time seen, 30: 0.83 of it.
    await expect(verdict).resolves.toEqual({ kept: true, fastest: { soloMs: 25, laneMs: 30 } });
    expect(checks()).toBe(2);
  });

  it('closes it after the last timing when it never pays, and does not count the busy moments', async () => {
    const { verdict, checks } = trial(busyCore, [
      undefined,
      { soloMs: 36, laneMs: 36 },
      undefined,
      undefined,
      { soloMs: 35, laneMs: 39 },
      { soloMs: 37, laneMs: 40 },
    ]);
    await expect(verdict).resolves.toEqual({ kept: false, fastest: { soloMs: 35, laneMs: 36 } });
    expect(checks()).toBe(6);
  });

  it('waits through a busy spell longer than its schedule and judges at the first idle moment', async () => {
    // A worker started into a backlog (a scale-up) is busy for minutes; its first quiet moment still decides.
    const busy = Array(20).fill(undefined);
    const { verdict, checks } = trial(busyCore, [...busy, { soloMs: 25, laneMs: 37 }], [1, 1]);
    await expect(verdict).resolves.toEqual({ kept: true, fastest: { soloMs: 25, laneMs: 37 } });
    expect(checks()).toBe(21);
  });

  it('times a model found busy again at its next idle moment, instead of polling on the schedule', async () => {
    let checks = 0;
    let idleNow: () => void = () => undefined;
    const idle = new Promise<void>((resolve) => (idleNow = resolve));
    let settle: (verdict: Verdict) => void = () => undefined;
    const verdict = new Promise<Verdict>((resolve) => (settle = resolve));
    new SoloLaneTrial(busyCore, {
      delaysMs: [5, 60_000],
      check: async () => (checks++ === 0 ? undefined : { soloMs: 25, laneMs: 37 }),
      whenIdle: () => idle,
      onVerdict: (kept, fastest, error) => settle({ kept, fastest, error }),
    });
    // Twenty of the schedule's first delays later it still waits for the idle moment.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(checks).toBe(1);
    idleNow();
    await expect(verdict).resolves.toEqual({ kept: true, fastest: { soloMs: 25, laneMs: 37 } });
    expect(checks).toBe(2);
  });

  it('closes it when a timing fails, with the error', async () => {
    const { verdict } = trial(busyCore, [{ soloMs: 36, laneMs: 36 }, new Error('session closed')]);
    const { kept, error } = await verdict;
    expect([kept, error?.message]).toEqual([false, 'session closed']);
  });

  it('says nothing once stopped (the model is closing), before a timing or during one', async () => {
    let settled = false;
    const { started, checks } = trial(busyCore, [{ soloMs: 1, laneMs: 36 }], [30]);
    started.stop();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(checks()).toBe(0);
    const late = new SoloLaneTrial(busyCore, {
      delaysMs: [1],
      check: async () => {
        late.stop();
        return { soloMs: 1, laneMs: 36 };
      },
      onVerdict: () => (settled = true),
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(settled).toBe(false);
  });
});
