// Learning rate at each step: linear warm-up from 0 to the peak over `warmupSteps`, then linear decay towards 0
// at `totalSteps` (the schedule of Hugging Face's get_linear_schedule_with_warmup, counted so that neither the
// first step (warm-up) nor the last one (decay) gets a zero rate).

/** Multiplier of the peak learning rate for 1-based step s of totalSteps. */
export function linearWarmupDecay(step: number, totalSteps: number, warmupSteps: number): number {
  if (step <= 0) return 0;
  if (warmupSteps > 0 && step <= warmupSteps) return step / warmupSteps;
  const decaySteps = totalSteps - warmupSteps;
  if (decaySteps <= 0) return 1;
  return Math.max(0, (totalSteps - step + 1) / decaySteps);
}

export function warmupStepsFor(totalSteps: number, warmupRatio: number): number {
  return Math.ceil(totalSteps * warmupRatio);
}
