// The package's types as a TypeScript user meets them, checked with `tsc --strict` against the
// built package (`pkg/index.d.ts` and the types generated from the Rust structs). Every name the
// package exports is used here; `@ts-expect-error` lines are misuses the types must reject.
import {
  InferenceSession,
  Tensor,
  env,
  fromFloat16Bits,
  init,
  pipeline,
  pipelines,
  tasks,
  toFloat16Bits,
} from 'edgewise';
import type {
  AquantOptions,
  AquantResult,
  DefectAnalysis,
  DefectCrop,
  DefectKinds,
  DefectOptions,
  DefectRegion,
  DefectResult,
  DefectSample,
  Device,
  Dimension,
  ExitReport,
  ExitdoorAnswer,
  ExitdoorOptions,
  ExitdoorResult,
  ImageInput,
  KnoInput,
  KnoOptions,
  KnoResult,
  MultiexitOptions,
  MultiexitResult,
  MultiexitSamples,
  Pipeline,
  PipelineId,
  PipelineModel,
  PipelineOptions,
  PipelineProgress,
  Pipelines,
  PlanReport,
  RbnnOptions,
  RbnnResult,
  RbnnSamples,
  SnfLayer,
  SnfOptions,
  SnfResult,
  StageReport,
  TensorDataTypeMap,
  WebGpuLike,
  TensorPlainTypeMap,
  TensorType,
  ValueMetadata,
} from 'edgewise';

export async function sessions(bytes: Uint8Array, gpu: WebGpuLike): Promise<number> {
  await init();
  const session = await InferenceSession.create(bytes, { executionProviders: [{ name: 'webgpu', gpu }, 'wasm'], freeDimensionOverrides: { batch: 1 } });
  // @ts-expect-error: only WebGPU takes a gpu
  await InferenceSession.create(bytes, { executionProviders: [{ name: 'wasm', gpu }] });
  const type: TensorType = 'float32';
  const data: TensorDataTypeMap['float32'] = new Float32Array(4096);
  const plain: TensorPlainTypeMap['float16'] = [0.5, 1];
  const image = new Tensor(type, data, [1, 1, 64, 64]);
  const half = new Tensor('float16', plain, [2]);
  const out = await session.run({ image, half });
  const edges: Tensor | undefined = out['edges'];
  const meta: readonly ValueMetadata[] = session.inputMetadata;
  const dim: Dimension | undefined = meta[0]?.shape?.[0];
  // @ts-expect-error: a dimension is a size or a name
  const notDim: Dimension = true;
  const stages: readonly StageReport[] = session.stages();
  const where: Device = stages[0]?.placement ?? 'cpu';
  const plans: PlanReport = session.plans();
  const early = await session.run({ image }, { exitThreshold: 0.9 });
  const fetched = await session.run({ image }, ['edges'], { exitThreshold: 0.9 });
  const answered: ExitReport | undefined = session.lastExit;
  const exits: readonly string[] = session.exits;
  // @ts-expect-error: exitThreshold is a number
  await session.run({ image }, { exitThreshold: 'high' });
  void [early, fetched, answered?.stagesRun, exits];
  // @ts-expect-error: a tensor's data is the typed array of its type
  new Tensor('int32', new Float32Array(2), [2]);
  await session.release();
  env.numThreads = 2;
  return `${dim}${notDim}`.length + fromFloat16Bits(toFloat16Bits(1)) + meta.length + (edges?.size ?? 0) + (where === 'webgpu' ? 1 : 0) + plans.built + env.wasmMemoryBytes;
}

export async function onePipelineEach(imageData: ImageInput): Promise<string> {
  const progress = (p: PipelineProgress) => void p.loaded;
  const options: PipelineOptions = { provider: 'webgpu', progress, cache: true };
  const detect = await pipeline('defect', options);
  const found: DefectResult = await detect(imageData, { threshold: 0.4, minArea: 3 } satisfies DefectOptions);
  const batch: DefectResult[] = await detect([imageData, imageData]);
  const region: DefectRegion | undefined = found.boxes[0];
  const crop: DefectCrop = found.crop;
  const heat: Float32Array = found.heatmap;
  // @ts-expect-error: minArea is a number
  await detect(imageData, { minArea: '3' });

  const step = await pipeline('kno');
  const u0: KnoInput = new Float32Array(128);
  const rollout: KnoResult = await step(u0, { steps: 10 } satisfies KnoOptions);
  const last: Float32Array | undefined = rollout.states[rollout.states.length - 1];

  const classify = await pipeline('rbnn');
  const glyph: RbnnResult = await classify(imageData, { task: 'letters', rootKey: '0x1' } satisfies RbnnOptions);
  // @ts-expect-error: rbnn results have no heatmap
  void glyph.heatmap;
  const early = await pipeline('multiexit');
  const answer: MultiexitResult = await early(imageData, { threshold: 0.9 } satisfies MultiexitOptions);
  const exitTaken: number = answer.exit;
  const probe = await pipeline('exitdoor');
  const probed: ExitdoorResult = await probe(imageData, { trigger: true } satisfies ExitdoorOptions);
  const vanillaAnswer: ExitdoorAnswer = probed.vanilla;
  const hijacked: boolean = probed.hijacked && probed.multiExit.exit < vanillaAnswer.exit;
  const quantized = await pipeline('aquant');
  const q4: AquantResult = (await quantized([imageData], {} satisfies AquantOptions))[0]!;
  const bits: number = q4.weightBits + q4.activationBits;
  const pruned = await pipeline('snf');
  const small: SnfResult = (await pruned(imageData, {} satisfies SnfOptions));
  const saved: number = 1 - small.flops / small.fullFlops + small.widths.length;
  // @ts-expect-error: no such pipeline
  await pipeline('nope');

  const id: PipelineId = 'defect';
  const typed: Pipelines[typeof id] = detect;
  const generic: Pipeline<ImageInput, DefectOptions, DefectResult> = typed;
  const models: PipelineModel[] = await pipelines();
  generic.dispose();
  return `${batch.length}${region?.score}${crop.side}${heat.length}${last?.length}${glyph.className}${models[0]?.sha256}${detect.stages().length}${exitTaken}${answer.macs}${hijacked}${bits}${q4.className}${saved}`;
}

export function helpers(ssim: Tensor<'float32'>): number {
  const kinds: DefectKinds = tasks.defect.kinds();
  const sample: DefectSample = tasks.defect.sample('stripes', null, 1);
  const analysis: DefectAnalysis = tasks.defect.analyze(ssim, { threshold: 0.45 });
  const glyphs: RbnnSamples = tasks.rbnn.samples('digits', 10, 1);
  const graded: MultiexitSamples = tasks.multiexit.samples(10, 1);
  const names: string[] = tasks.multiexit.classNames();
  const triggered: Float32Array = tasks.exitdoor.stamp(graded.images.subarray(0, 256));
  const rounded: Float32Array = tasks.aquant.round([0.1, 0.26], { scale: 0.1, border: 0.7 });
  const layer: SnfLayer = { filters: 4, inChannels: 1, from: null, unit: 9 };
  const flops: number = tasks.snf.flops([layer], [2]);
  // @ts-expect-error: the scale is required
  tasks.aquant.round([0.1], { border: 0.5 });
  const box: tasks.DefectBox | undefined = analysis.boxes[0];
  return kinds.families.length + sample.size + (box?.area ?? 0) + glyphs.n + graded.difficulty.length + names.length + triggered.length + rounded.length + flops + tasks.kno.relativeL2([1], [1]);
}
