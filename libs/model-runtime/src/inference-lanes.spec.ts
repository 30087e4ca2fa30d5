import { AUTO_LANES, describeLaneLayout, laneLayout, soloLanePays } from './inference-lanes';

describe('laneLayout', () => {
  it('splits two cores into two lanes of one thread, with a solo lane of both', () => {
    expect(laneLayout(2)).toEqual({ lanes: AUTO_LANES, threadsPerLane: 1, soloThreads: 2 });
  });

  it('runs one lane with every core on a single core, or when one lane is asked for', () => {
    expect(laneLayout(1)).toEqual({ lanes: 1, threadsPerLane: 1, soloThreads: undefined });
    expect(laneLayout(8, 1)).toEqual({ lanes: 1, threadsPerLane: 8, soloThreads: undefined });
  });

  it('shares the cores evenly, never more lanes than cores', () => {
    expect(laneLayout(8)).toEqual({ lanes: 2, threadsPerLane: 4, soloThreads: 8 });
    expect(laneLayout(7, 3)).toEqual({ lanes: 3, threadsPerLane: 2, soloThreads: 7 });
    expect(laneLayout(2, 4)).toEqual({ lanes: 2, threadsPerLane: 1, soloThreads: 2 });
  });
});

it('describes a layout in words', () => {
  expect(describeLaneLayout(laneLayout(2))).toBe('2 lanes of 1 thread');
  expect(describeLaneLayout(laneLayout(8, 1))).toBe('1 lane of 8 threads');
});

describe('soloLanePays', () => {
  it('keeps the solo lane only when a lone run is clearly faster on it', () => {
    expect(soloLanePays(27, 40)).toBe(true);
    expect(soloLanePays(15, 15.2)).toBe(false);
    expect(soloLanePays(0, 40)).toBe(false);
  });
});
