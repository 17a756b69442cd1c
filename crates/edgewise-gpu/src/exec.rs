//! Executing one operator's GPU program on device tensors.

use std::sync::Arc;

use edgewise_ops::program::{GpuProgram, Pass, Slot};
use edgewise_ops::{CustomOp, Fact};
use wgpu::util::DeviceExt;

use crate::context::Gpu;
use crate::error::GpuError;
use crate::tensor::GpuTensor;

impl Gpu {
    /// Runs `op` on device tensors and returns its outputs, still on the device. The work is
    /// submitted, not awaited; errors the device reports for it are collected before this
    /// returns.
    pub async fn run(
        &self,
        op: &dyn CustomOp,
        inputs: &[&GpuTensor],
    ) -> Result<Vec<GpuTensor>, GpuError> {
        self.check_alive()?;
        let facts: Vec<Fact> = inputs
            .iter()
            .map(|t| Fact::concrete(t.dt, &t.shape))
            .collect();
        let program = op
            .gpu_program(&facts)
            .map_err(|e| GpuError::Program(format!("{e:#}")))?;
        self.execute(&program, inputs).await
    }

    /// Runs an already built program.
    pub async fn execute(
        &self,
        program: &GpuProgram,
        inputs: &[&GpuTensor],
    ) -> Result<Vec<GpuTensor>, GpuError> {
        self.check_alive()?;
        let outputs: Vec<GpuTensor> = program
            .outputs
            .iter()
            .enumerate()
            .map(|(i, o)| {
                Ok(GpuTensor {
                    buffer: Arc::new(self.storage(&format!("output {i}"), o.len() as u64)?),
                    dt: o.dt,
                    shape: o.shape.clone(),
                })
            })
            .collect::<Result<_, GpuError>>()?;
        let scratch: Vec<wgpu::Buffer> = program
            .scratch
            .iter()
            .enumerate()
            .map(|(i, &words)| self.storage(&format!("scratch buffer {i}"), words))
            .collect::<Result<_, _>>()?;
        let mut pipelines = Vec::with_capacity(program.passes.len());
        for pass in &program.passes {
            pipelines.push(self.pipeline(pass).await?);
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        for (pass, pipeline) in program.passes.iter().zip(&pipelines) {
            self.check_grid(pass)?;
            let params = self
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(pass.label),
                    contents: &words_or_zero(&pass.params),
                    usage: wgpu::BufferUsages::STORAGE,
                });
            let buffer = |slot: &Slot| -> Result<&wgpu::Buffer, GpuError> {
                let missing =
                    || GpuError::Program(format!("{}: {slot:?} does not exist", pass.label));
                match *slot {
                    Slot::Input(i) => inputs.get(i).map(|t| &*t.buffer).ok_or_else(missing),
                    Slot::Output(i) => outputs.get(i).map(|t| &*t.buffer).ok_or_else(missing),
                    Slot::Scratch(i) => scratch.get(i).ok_or_else(missing),
                }
            };
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: params.as_entire_binding(),
            }];
            for (i, slot) in pass.bindings.iter().enumerate() {
                entries.push(wgpu::BindGroupEntry {
                    binding: i as u32 + 1,
                    resource: buffer(slot)?.as_entire_binding(),
                });
            }
            let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(pass.label),
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            });
            let mut cpass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(pass.label),
                timestamp_writes: None,
            });
            cpass.set_pipeline(pipeline);
            cpass.set_bind_group(0, &group, &[]);
            let [x, y, z] = pass.workgroups;
            cpass.dispatch_workgroups(x, y, z);
        }
        self.queue.submit([encoder.finish()]);
        if let Some(e) = oom.pop().await {
            scope.pop().await;
            return Err(GpuError::Execution(e.to_string()));
        }
        if let Some(e) = scope.pop().await {
            return Err(self
                .check_alive()
                .err()
                .unwrap_or_else(|| GpuError::Execution(e.to_string())));
        }
        Ok(outputs)
    }

    fn check_grid(&self, pass: &Pass) -> Result<(), GpuError> {
        if pass.workgroups.iter().any(|&n| n > self.max_workgroups) {
            return Err(GpuError::TooLarge {
                what: format!("{} workgroup grid {:?}", pass.label, pass.workgroups),
                bytes: 0,
                limit: self.max_workgroups as u64,
            });
        }
        Ok(())
    }

    /// The compiled pipeline for a pass, compiling it on first use. A failure is reported,
    /// not cached, so a later call tries again.
    async fn pipeline(&self, pass: &Pass) -> Result<wgpu::ComputePipeline, GpuError> {
        let key = (pass.shader.as_ptr() as usize, pass.entry);
        if let Some(p) = self
            .pipelines
            .lock()
            .ok()
            .and_then(|c| c.get(&key).cloned())
        {
            return Ok(p);
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(pass.label),
                source: wgpu::ShaderSource::Wgsl(if self.break_shaders {
                    format!("{}\nsimulated compile failure", pass.shader).into()
                } else {
                    pass.shader.into()
                }),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(pass.label),
                layout: None,
                module: &module,
                entry_point: Some(pass.entry),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(e) = scope.pop().await {
            return Err(GpuError::Compile {
                pass: pass.label.into(),
                message: e.to_string(),
            });
        }
        if let Ok(mut cache) = self.pipelines.lock() {
            cache.insert(key, pipeline.clone());
        }
        Ok(pipeline)
    }
}

/// The bytes of a parameter block; WebGPU refuses empty bindings, so an empty block is one
/// zero word.
fn words_or_zero(words: &[u32]) -> Vec<u8> {
    if words.is_empty() {
        vec![0; 4]
    } else {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}
