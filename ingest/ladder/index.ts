/**
 * Quality ladders (docs/ladder.md): one ffmpeg per ladder (`LadderTranscoder`), its restarts
 * (`LadderSupervisor`) and the task's CPU admission (`LadderCapacity`). The packaging of each rung is the caller's
 * (one `Packager` per rung, fed `onMessage`).
 */
export {
  GRID_TOLERANCE_SECONDS,
  keyframeExpression,
  type LadderArgsOptions,
  ladderFfmpegArgs,
  ladderFilterGraph,
  type LadderOutput,
  ladderOutputs,
  rungThreads,
} from './args.js';
export { type LadderExit, type LadderFault, type LadderStats, LadderTranscoder, type LadderTranscoderOptions, type SpawnFn } from './transcoder.js';
export { type LadderState, type LadderStateEvent, LadderSupervisor, type LadderSupervisorOptions } from './supervisor.js';
export {
  type Admission,
  DECODE_WEIGHT,
  DEFAULT_CORES_PER_MPIXEL,
  DEFAULT_PASSTHROUGH_CORES,
  LadderCapacity,
  type LadderCapacityOptions,
  type LadderCostInput,
  type LadderLoad,
  ladderCostCores,
  processTreeCpuSeconds,
  SCALE_WEIGHT,
} from './capacity.js';
