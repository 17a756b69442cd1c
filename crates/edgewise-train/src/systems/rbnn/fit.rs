//! Training and evaluation of the RBNN and of its baselines: data, the loop over batches that
//! mix the tasks, accuracies under the right or the wrong keys.

use anyhow::Result;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use edgewise_data::glyphs::{self, CLASSES, Split, Task};
use serde_json::json;

use super::{Classifier, Config, Keying, ROOT_KEY, Rbnn, SIZE, group};
use crate::binary::Group;
use crate::emit::values;
use crate::run::{History, Run, TrainOptions};
pub use crate::systems::argmax;
use crate::systems::{batches, cosine_lr, cross_entropy, to_tensor};

/// Training and test images of each task (the same for every net of a run: a task's split
/// depends only on the seed and the task).
pub struct Data {
    /// The tasks.
    pub tasks: Vec<Task>,
    /// Training set of each task.
    pub train: Vec<Split>,
    /// Test set of each task.
    pub test: Vec<Split>,
}

impl Data {
    /// Draws the splits of `tasks`.
    pub fn new(tasks: &[Task], config: &Config, seed: u64) -> Result<Data> {
        let draw = |n, s| {
            tasks
                .iter()
                .map(|&t| glyphs::split(t, n, s).map_err(anyhow::Error::msg))
                .collect::<Result<Vec<_>>>()
        };
        Ok(Data {
            tasks: tasks.to_vec(),
            train: draw(config.train_per_task, seed ^ 0x7261_696e)?,
            test: draw(config.test_per_task, seed ^ 0x7465_7374)?,
        })
    }
}

/// Image `i` of a split.
fn image(s: &Split, i: usize) -> &[f32] {
    &s.images[i * SIZE * SIZE..(i + 1) * SIZE * SIZE]
}

/// The accuracy of `model` on `test`, reading every sample as one group made by `group_of`.
pub fn accuracy<M: Classifier>(
    model: &M,
    test: &Split,
    device: &Device,
    group_of: impl Fn(usize) -> Group,
) -> Result<f64> {
    let mut right = 0;
    for start in (0..test.n).step_by(128) {
        let end = (start + 128).min(test.n);
        let x = to_tensor(
            (start..end).map(|i| image(test, i)),
            [1, SIZE, SIZE],
            device,
        );
        let logits = values(&model.logits(x, &[group_of(end - start)]))?;
        for (row, &label) in logits.chunks(CLASSES).zip(&test.labels[start..end]) {
            right += (argmax(row) == label as usize) as usize;
        }
    }
    Ok(right as f64 / test.n as f64)
}

/// Trains `model` on `data` (batches mixing its tasks, each sample under its own task's
/// masks from `keying`), checkpointing into the run folder `run_name`. History columns:
/// `loss`, `acc_<task>` per task and `mean_acc`.
pub fn fit<M: Classifier>(
    options: &TrainOptions,
    config: &Config,
    data: &Data,
    keying: Keying,
    taps: &[usize],
    model: M,
    run_name: &str,
) -> Result<(M, History)> {
    let device = crate::systems::device(options)?;
    let mut run = Run::open(run_name, options)?;
    let optim: ModuleOptimizer = AdamConfig::new().init();
    // What must match to resume: the config (epochs aside), the tasks and the keying.
    let mut run_config = serde_json::to_value(config)?;
    run_config["tasks"] = json!(data.tasks.iter().map(|t| t.name()).collect::<Vec<_>>());
    run_config["keying"] = json!(format!("{keying:?}"));
    let (done, history, mut model, mut optim) = run.resume(options, &run_config, model, optim)?;
    let columns: Vec<String> = std::iter::once("loss".to_string())
        .chain(data.tasks.iter().map(|t| format!("acc_{}", t.name())))
        .chain(["mean_acc".to_string()])
        .collect();
    let refs: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut history = history.unwrap_or_else(|| History::new(&refs));
    let per = config.train_per_task;
    let total = per * data.tasks.len();
    let steps = total.div_ceil(config.batch);
    let groups: Vec<Group> = data
        .tasks
        .iter()
        .map(|&t| group(t, 0, keying, taps, &device))
        .collect();
    run.progress(run_name, config.epochs, steps, done);
    for epoch in done..config.epochs {
        let mut sum = 0.0;
        for (step, mut batch) in batches(total, config.batch, options.seed, epoch)
            .into_iter()
            .enumerate()
        {
            // Group the batch by task (stable: the shuffled order within a task stays).
            batch.sort_by_key(|&i| i / per);
            let batch_groups: Vec<Group> = groups
                .iter()
                .enumerate()
                .map(|(t, g)| Group {
                    len: batch.iter().filter(|&&i| i / per == t).count(),
                    masks: g.masks.clone(),
                })
                .filter(|g| g.len > 0)
                .collect();
            let sample = |i: usize| (&data.train[i / per], i % per);
            let x = to_tensor(
                batch.iter().map(|&i| {
                    let (s, j) = sample(i);
                    image(s, j)
                }),
                [1, SIZE, SIZE],
                &device,
            );
            let labels: Vec<u8> = batch
                .iter()
                .map(|&i| {
                    let (s, j) = sample(i);
                    s.labels[j]
                })
                .collect();
            let loss = cross_entropy(model.logits(x, &batch_groups), &labels);
            let value = loss.clone().into_scalar::<f32>() as f64;
            sum += value;
            let lr = cosine_lr(config.lr, epoch, step, steps, config.epochs);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            run.step(format!("loss {value:.4}"));
        }
        let valid = model.valid();
        let eval = Device::flex();
        let valid = valid.to_device(&eval);
        let mut row = vec![sum / steps as f64];
        for (&t, test) in data.tasks.iter().zip(&data.test) {
            row.push(accuracy(&valid, test, &eval, |n| {
                group(t, n, keying, taps, &eval)
            })?);
        }
        let mean = row[1..].iter().sum::<f64>() / data.tasks.len() as f64;
        row.push(mean);
        history.push(epoch + 1, &row)?;
        let accs: Vec<String> = data
            .tasks
            .iter()
            .zip(&row[1..])
            .map(|(t, a)| format!("{} {:.3}", t.name(), a))
            .collect();
        run.println(&format!(
            "{run_name} epoch {}: loss {:.4}, accuracy {} (mean {mean:.3})",
            epoch + 1,
            row[0],
            accs.join(", ")
        ));
        run.checkpoint(epoch + 1, &model, &optim, &history, options, &run_config)?;
    }
    run.finish();
    Ok((model.valid(), history))
}

/// Trains the RBNN on the four tasks under [`ROOT_KEY`] into the run folder `run_name`.
pub fn fit_rbnn(options: &TrainOptions, run_name: &str) -> Result<(Rbnn, History, Config, Data)> {
    let config = Config::new(options);
    let device = crate::systems::device(options)?;
    device.seed(options.seed);
    let data = Data::new(&Task::ALL, &config, options.seed)?;
    let model = Rbnn::new(&config, &device);
    let taps = model.taps();
    let (model, history) = fit(
        options,
        &config,
        &data,
        Keying::Root(ROOT_KEY),
        &taps,
        model,
        run_name,
    )?;
    Ok((model, history, config, data))
}

/// Accuracy of `model` on each task's test set when every task is read with the keys of
/// `keys_of(task)`.
pub fn accuracies_with(
    model: &Rbnn,
    data: &Data,
    keys_of: impl Fn(Task) -> Vec<Vec<u32>>,
) -> Result<Vec<f64>> {
    let device = Device::flex();
    let model = model.valid().to_device(&device);
    let taps = model.taps();
    data.tasks
        .iter()
        .zip(&data.test)
        .map(|(&t, test)| {
            let keys = keys_of(t);
            accuracy(&model, test, &device, |n| {
                Group::keyed(n, &keys, &taps, &device)
            })
        })
        .collect()
}

/// The task read with the keys of another: the next task in [`Task::ALL`].
pub fn other_task(t: Task) -> Task {
    Task::ALL[(t.index() + 1) % Task::ALL.len()]
}
