//! Per-event cost of the flood detector for one source spraying distinct session tags: flat
//! from 1k to 1M tags, because the detector is a fixed-size sketch.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sealed_session::__flood_bench::Detector;
use sealed_session::FloodPolicy;

fn distinct_tags(c: &mut Criterion) {
    let source: IpAddr = "2001:db8::1".parse().unwrap_or(IpAddr::from([0u8; 16]));
    let mut group = c.benchmark_group("flood/record");
    group.throughput(Throughput::Elements(1));
    for tags in [1_000u64, 10_000, 100_000, 1_000_000] {
        let detector = Detector::new(FloodPolicy::default());
        // Fill the window with `tags` distinct sessions first, then measure while cycling
        // through them.
        for i in 0..tags {
            detector.record(Some(source), Some(i.to_le_bytes()), 30);
        }
        let mut i = 0u64;
        group.bench_with_input(BenchmarkId::from_parameter(tags), &tags, |b, &tags| {
            b.iter(|| {
                i = (i + 1) % tags;
                black_box(detector.record(Some(source), Some(i.to_le_bytes()), 30))
            });
        });
        println!("flood/record/{tags}: memory {} bytes", detector.memory_bytes());
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().measurement_time(Duration::from_secs(3))
}

criterion_group! { name = benches; config = config(); targets = distinct_tags }
criterion_main!(benches);
