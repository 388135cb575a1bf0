//! The wgpu device every GPU stage shares.
//!
//! How it works: all adapters of all compiled-in backends are listed and ranked (a real GPU first, then a
//! software Vulkan such as lavapipe, then GL), the best one is opened with its own limits, and the optional
//! features the kernels can exploit (float atomics, subgroups, timestamp queries) are requested only when the
//! adapter offers them. [`GpuCaps`] tells kernels which path to take; every kernel keeps a path that needs none.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytemuck::Pod;
use thiserror::Error;

/// What can go wrong talking to the GPU; each names the step and how to fix it where we know.
#[derive(Debug, Error)]
pub enum GpuError {
    #[error(
        "no usable GPU adapter found (backends tried: {tried}). Install a Vulkan driver: on Debian/Ubuntu \
         `apt-get install mesa-vulkan-drivers libvulkan1` gives the lavapipe software renderer"
    )]
    NoAdapter { tried: String },
    #[error("could not open GPU device on adapter '{adapter}': {source}")]
    RequestDevice {
        adapter: String,
        #[source]
        source: wgpu::RequestDeviceError,
    },
    #[error("the GPU device was lost ({reason}); restart splatrack, and check the driver if it repeats")]
    DeviceLost { reason: String },
    #[error("reading back buffer '{label}' from the GPU failed: {reason}")]
    Readback { label: String, reason: String },
    #[error("{what} needs {bytes} bytes, over this device's storage binding limit of {limit} bytes")]
    TooLarge { what: String, bytes: u64, limit: u64 },
}

/// Optional device features the kernels may use; each `false` selects the kernel's portable path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuCaps {
    /// `atomic<f32>` add in storage buffers (gradient accumulation); else a CAS loop on `atomic<u32>`.
    pub float_atomics: bool,
    /// Subgroup operations (faster scans and reductions); else workgroup shared memory.
    pub subgroups: bool,
    /// Timestamp queries on pass boundaries (per-stage GPU timings in `bench`); else wall-clock timing.
    pub timestamps: bool,
}

/// The shared device and queue, with what we learnt about the adapter.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter_info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub caps: GpuCaps,
    /// When set, every buffer made through [`GpuContext::storage_buffer`] starts filled with NaN bit patterns,
    /// so tests catch any kernel that reads memory it never wrote.
    poison_fresh_buffers: AtomicBool,
    lost: Arc<AtomicBool>,
}

/// The bit pattern fresh buffers are poisoned with: a quiet NaN as f32 and a huge value as u32.
pub const POISON_WORD: u32 = 0x7fc0_dead;

fn adapter_rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    // Within a kind, prefer the native compute APIs over GL, which lacks subgroups and float atomics.
    let backend = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    };
    (kind, backend)
}

impl GpuContext {
    /// Opens the best adapter. `WGPU_BACKEND` (e.g. `gl`) and `WGPU_ADAPTER_NAME` narrow the choice.
    pub fn new() -> Result<Self, GpuError> {
        pollster::block_on(Self::new_async())
    }

    async fn new_async() -> Result<Self, GpuError> {
        // Native compute APIs first; GL (EGL) is only initialised when they offer nothing, or when asked
        // for through WGPU_BACKEND.
        let tries = match wgpu::Backends::from_env() {
            Some(backends) => vec![backends],
            None => vec![wgpu::Backends::PRIMARY, wgpu::Backends::GL],
        };
        let name_filter = std::env::var("WGPU_ADAPTER_NAME").ok().map(|n| n.to_lowercase());
        let mut chosen = None;
        for backends in &tries {
            let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
                backends: *backends,
                ..wgpu::InstanceDescriptor::new_without_display_handle_from_env()
            });
            let mut adapters = instance.enumerate_adapters(*backends).await;
            if let Some(name) = &name_filter {
                adapters.retain(|a| a.get_info().name.to_lowercase().contains(name));
            }
            adapters.sort_by_key(|a| adapter_rank(&a.get_info()));
            chosen = adapters
                .into_iter()
                .find(|a| a.get_downlevel_capabilities().flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS));
            if chosen.is_some() {
                break;
            }
        }
        let adapter = chosen.ok_or_else(|| GpuError::NoAdapter { tried: format!("{tries:?}") })?;
        let (device, queue) = adapter
            .request_device(&Self::device_descriptor(&adapter))
            .await
            .map_err(|source| GpuError::RequestDevice { adapter: adapter.get_info().name, source })?;
        Ok(Self::from_device(&adapter, device, queue))
    }

    /// What splatrack asks of a device: the adapter's own limits, and float atomics, subgroups and timestamps
    /// where offered. The GUI asks eframe for the same device so both share it.
    pub fn device_descriptor(adapter: &wgpu::Adapter) -> wgpu::DeviceDescriptor<'static> {
        let wanted = wgpu::Features::SHADER_FLOAT32_ATOMIC | wgpu::Features::SUBGROUP | wgpu::Features::TIMESTAMP_QUERY;
        wgpu::DeviceDescriptor {
            label: Some("splatrack"),
            required_features: adapter.features() & wanted,
            required_limits: adapter.limits(),
            ..Default::default()
        }
    }

    /// Wraps a device opened with [`GpuContext::device_descriptor`] (by us or by the GUI toolkit).
    pub fn from_device(adapter: &wgpu::Adapter, device: wgpu::Device, queue: wgpu::Queue) -> Self {
        let info = adapter.get_info();
        let features = device.features();
        let limits = device.limits();
        let lost = Arc::new(AtomicBool::new(false));
        let lost_flag = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            tracing::error!(?reason, %message, "GPU device lost");
            lost_flag.store(true, Ordering::SeqCst);
        });
        let caps = GpuCaps {
            float_atomics: features.contains(wgpu::Features::SHADER_FLOAT32_ATOMIC),
            subgroups: features.contains(wgpu::Features::SUBGROUP),
            timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
        };
        tracing::info!(
            adapter = %info.name, backend = ?info.backend, kind = ?info.device_type, driver = %info.driver,
            max_storage_binding = limits.max_storage_buffer_binding_size, ?caps, "GPU ready"
        );
        Self { device, queue, adapter_info: info, limits, caps, poison_fresh_buffers: AtomicBool::new(false), lost }
    }

    /// One line naming the adapter, for logs, bench output and notes.
    pub fn adapter_line(&self) -> String {
        let i = &self.adapter_info;
        format!("{} ({:?}, {:?}, driver {} {})", i.name, i.backend, i.device_type, i.driver, i.driver_info)
    }

    /// Tests turn this on so no kernel can silently rely on zero-initialised buffers.
    pub fn set_poison_fresh_buffers(&self, on: bool) {
        self.poison_fresh_buffers.store(on, Ordering::Relaxed);
    }

    /// A storage buffer of at least `bytes` (min 4), checked against the binding limit, poisoned in tests.
    pub fn storage_buffer(&self, label: &str, bytes: u64, extra: wgpu::BufferUsages) -> Result<wgpu::Buffer, GpuError> {
        let size = bytes.max(4).next_multiple_of(4);
        if size > self.limits.max_storage_buffer_binding_size {
            return Err(GpuError::TooLarge {
                what: label.to_string(),
                bytes: size,
                limit: self.limits.max_storage_buffer_binding_size,
            });
        }
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC | extra,
            mapped_at_creation: false,
        });
        if self.poison_fresh_buffers.load(Ordering::Relaxed) {
            let words = vec![POISON_WORD; (size / 4) as usize];
            self.queue.write_buffer(&buffer, 0, bytemuck::cast_slice(&words));
        }
        Ok(buffer)
    }

    /// A small uniform buffer holding `value`.
    pub fn uniform_buffer<T: Pod>(&self, label: &str, value: &T) -> wgpu::Buffer {
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: std::mem::size_of::<T>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.queue.write_buffer(&buffer, 0, bytemuck::bytes_of(value));
        buffer
    }

    /// Fails with [`GpuError::DeviceLost`] once the driver has reported the device gone.
    pub fn check_alive(&self) -> Result<(), GpuError> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(GpuError::DeviceLost { reason: "reported by the driver".into() });
        }
        Ok(())
    }

    /// Blocks until all submitted work is done.
    pub fn wait_idle(&self) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::DeviceLost { reason: e.to_string() })?;
        self.check_alive()
    }

    /// Copies `count` elements of `T` from the start of `buffer` to the host (one submit-and-wait round trip).
    pub fn read_buffer<T: Pod>(&self, buffer: &wgpu::Buffer, count: usize) -> Result<Vec<T>, GpuError> {
        self.read_buffer_at(buffer, 0, count)
    }

    /// Copies `count` elements of `T` starting `offset` bytes into `buffer` (4-byte aligned) to the host.
    pub fn read_buffer_at<T: Pod>(&self, buffer: &wgpu::Buffer, offset: u64, count: usize) -> Result<Vec<T>, GpuError> {
        let label = || format!("{buffer:?}");
        let bytes = (count * std::mem::size_of::<T>()) as u64;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes.next_multiple_of(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, Some(bytes.next_multiple_of(4)));
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = crossbeam_channel::bounded(1);
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.wait_idle()?;
        rx.recv()
            .map_err(|e| GpuError::Readback { label: label(), reason: e.to_string() })?
            .map_err(|e| GpuError::Readback { label: label(), reason: e.to_string() })?;
        let view = staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| GpuError::Readback { label: label(), reason: e.to_string() })?;
        let out = bytemuck::pod_collect_to_vec::<u8, T>(&view[..bytes as usize]);
        drop(view);
        staging.unmap();
        Ok(out)
    }
}

/// Workgroup counts for `groups` 1-D workgroups, folded into 2-D when over the 65 535 per-dimension limit.
/// Kernels rebuild the linear index as `wg.x + wg.y * num_workgroups.x`.
pub fn dispatch_dims(groups: u32) -> (u32, u32) {
    const MAX: u32 = 65_535;
    if groups <= MAX { (groups.max(1), 1) } else { (MAX, groups.div_ceil(MAX)) }
}
