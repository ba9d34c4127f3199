//! Records waiting for S3, grouped into objects.
//!
//! Deliveries are appended to an open object until it reaches the object
//! size; then it is sealed: its key is fixed and its body compressed once,
//! so a retry uploads exactly the same object. An object leaves memory only
//! when S3 has accepted it.

use std::collections::VecDeque;
use std::io::Write;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::OwnedSemaphorePermit;

use crate::records::Batch;

/// How keys are named: `<prefix>/<function>/year=YYYY/month=MM/day=DD/
/// <YYYYMMDD>T<HHMMSSmmm>Z-<instance>-<sequence>.ndjson[.gz]`. No colons,
/// so Athena and every S3 tool read them; the date folders are Hive-style
/// partitions; the time is that of the object's first record.
#[derive(Debug, Clone)]
pub struct Naming {
    pub prefix: String,
    pub function: String,
    /// Tells apart the objects of concurrent execution environments.
    pub instance: String,
    pub gzip: bool,
}

impl Naming {
    /// The pattern of the keys, for the start-up log line.
    pub fn key_pattern(&self) -> String {
        let sample = self.key(DateTime::<Utc>::UNIX_EPOCH, 0);
        let folder = sample.split("/year=").next().unwrap_or_default();
        let extension = if self.gzip { "ndjson.gz" } else { "ndjson" };
        format!(
            "{folder}/year=YYYY/month=MM/day=DD/<time>-{}-<n>.{extension}",
            self.instance
        )
    }

    pub fn key(&self, first: DateTime<Utc>, sequence: u64) -> String {
        let mut key = String::new();
        if !self.prefix.is_empty() {
            key.push_str(&self.prefix);
            key.push('/');
        }
        key.push_str(&format!(
            "{}/{}/{}-{}-{sequence:06}.ndjson",
            self.function,
            first.format("year=%Y/month=%m/day=%d"),
            first.format("%Y%m%dT%H%M%S%3fZ"),
            self.instance,
        ));
        if self.gzip {
            key.push_str(".gz");
        }
        key
    }
}

/// An object ready to upload.
pub struct Object {
    pub key: String,
    pub body: Bytes,
    pub records: usize,
    /// The buffer space its records hold, given back once S3 has them.
    _space: Option<OwnedSemaphorePermit>,
}

/// Records being gathered into the next object.
#[derive(Default)]
struct Open {
    ndjson: Vec<u8>,
    records: usize,
    first_time: Option<String>,
    space: Option<OwnedSemaphorePermit>,
}

pub struct Pending {
    naming: Naming,
    object_bytes: usize,
    open: Open,
    sealed: VecDeque<Object>,
    sequence: u64,
}

impl Pending {
    pub fn new(naming: Naming, object_bytes: usize) -> Self {
        Pending {
            naming,
            object_bytes,
            open: Open::default(),
            sealed: VecDeque::new(),
            sequence: 0,
        }
    }

    /// Adds a delivery; `space` is the buffer space it was granted.
    pub fn push(&mut self, batch: Batch, space: OwnedSemaphorePermit) {
        if batch.records == 0 {
            return;
        }
        // A batch that would carry the object past its size starts the
        // next one: objects stay within the size unless one delivery alone
        // is larger, and no object's buffer grows to twice what it holds.
        if !self.open.ndjson.is_empty()
            && self.open.ndjson.len() + batch.ndjson.len() > self.object_bytes
        {
            self.seal();
        }
        let open = &mut self.open;
        // The first batch's buffer becomes the object's: a delivery as
        // large as an object is sealed without ever being copied.
        if open.ndjson.is_empty() {
            open.ndjson = batch.ndjson;
        } else {
            open.ndjson.extend_from_slice(&batch.ndjson);
        }
        open.records += batch.records;
        if open.first_time.is_none() {
            open.first_time = batch.first_time;
        }
        match &mut open.space {
            Some(held) => held.merge(space),
            None => open.space = Some(space),
        }
        if open.ndjson.len() >= self.object_bytes {
            self.seal();
        }
    }

    /// Closes the open object, if it holds anything.
    pub fn seal(&mut self) {
        let open = std::mem::take(&mut self.open);
        if open.records == 0 {
            return;
        }
        self.sequence += 1;
        let first = open
            .first_time
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
        let body = if self.naming.gzip {
            gzip(&open.ndjson)
        } else {
            open.ndjson
        };
        self.sealed.push_back(Object {
            key: self.naming.key(first, self.sequence),
            body: Bytes::from(body),
            records: open.records,
            _space: open.space,
        });
    }

    /// The oldest sealed object, to upload next.
    pub fn next_sealed(&self) -> Option<&Object> {
        self.sealed.front()
    }

    /// S3 has the oldest sealed object: forget it and free its space.
    pub fn uploaded(&mut self) -> Option<Object> {
        self.sealed.pop_front()
    }

    pub fn has_sealed(&self) -> bool {
        !self.sealed.is_empty()
    }

    /// Records held, sealed or not.
    pub fn records(&self) -> usize {
        self.open.records + self.sealed.iter().map(|o| o.records).sum::<usize>()
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .expect("compressing into memory cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::sync::Arc;
    use tokio::sync::Semaphore;

    fn naming(gzip: bool) -> Naming {
        Naming {
            prefix: "logs/prod".into(),
            function: "my-function".into(),
            instance: "3f2a9c1d".into(),
            gzip,
        }
    }

    fn batch(lines: &[&str], time: &str) -> Batch {
        let mut ndjson = Vec::new();
        for line in lines {
            ndjson.extend_from_slice(line.as_bytes());
            ndjson.push(b'\n');
        }
        Batch {
            ndjson,
            records: lines.len(),
            first_time: Some(time.into()),
            ..Batch::default()
        }
    }

    fn space(semaphore: &Arc<Semaphore>, n: u32) -> OwnedSemaphorePermit {
        semaphore.clone().try_acquire_many_owned(n).unwrap()
    }

    #[test]
    fn keys_are_partitioned_by_the_first_records_date_and_have_no_colons() {
        let first = DateTime::parse_from_rfc3339("2026-01-15T09:05:03.042Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            naming(false).key(first, 7),
            "logs/prod/my-function/year=2026/month=01/day=15/20260115T090503042Z-3f2a9c1d-000007.ndjson"
        );
        let bare = Naming {
            prefix: String::new(),
            ..naming(true)
        };
        let key = bare.key(first, 1);
        assert!(key.starts_with("my-function/year=2026/"), "{key}");
        assert!(key.ends_with(".ndjson.gz") && !key.contains(':'), "{key}");
    }

    #[test]
    fn objects_are_cut_at_the_object_size_and_free_their_space_once_uploaded() {
        let semaphore = Arc::new(Semaphore::new(1000));
        let mut pending = Pending::new(naming(false), 40);
        pending.push(
            batch(&["{\"a\":1}", "{\"a\":2}"], "2026-01-15T09:05:03.042Z"),
            space(&semaphore, 100),
        );
        assert!(!pending.has_sealed(), "16 bytes stay open");
        pending.push(
            batch(&["{\"a\":3}"; 3], "2026-01-15T09:05:04.000Z"),
            space(&semaphore, 100),
        );
        assert!(pending.has_sealed(), "40 bytes reach the object's size");
        pending.push(
            batch(&["{\"b\":1}"], "2026-01-15T10:00:00.000Z"),
            space(&semaphore, 50),
        );
        assert_eq!(semaphore.available_permits(), 750);
        // 48 bytes would carry the open object past 40: they start the next.
        pending.push(
            batch(&["{\"c\":1}"; 6], "2026-01-15T11:00:00.000Z"),
            space(&semaphore, 60),
        );
        assert_eq!(pending.records(), 12);

        let first = pending.next_sealed().unwrap();
        assert_eq!(first.records, 5);
        assert!(first.key.contains("20260115T090503042Z"), "{}", first.key);
        assert_eq!(first.body.len(), 40);
        drop(pending.uploaded());
        assert_eq!(semaphore.available_permits(), 890);
        let second = pending.uploaded().unwrap();
        assert!(second.key.ends_with("-000002.ndjson"), "{}", second.key);
        assert_eq!(&second.body[..], b"{\"b\":1}\n");
        drop(second);
        // A batch larger than an object is an object of its own, whole.
        let third = pending.uploaded().unwrap();
        assert_eq!((third.records, third.body.len()), (6, 48));
        drop(third);
        assert_eq!(semaphore.available_permits(), 1000);
        assert_eq!(pending.records(), 0);
    }

    #[test]
    fn gzip_bodies_decompress_to_the_same_lines() {
        let semaphore = Arc::new(Semaphore::new(100));
        let mut pending = Pending::new(naming(true), 1 << 20);
        pending.push(
            batch(&["{\"a\":1}", "{\"a\":2}"], "bad time"),
            space(&semaphore, 10),
        );
        pending.seal();
        let object = pending.uploaded().unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&object.body[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"a\":2}\n");
        assert!(object.key.ends_with(".ndjson.gz"));
    }
}
