//! Counters reported by the 4-letter words (`srvr`, `cons`, `mntr`) and reset by `srst`/`crst`.

use std::time::Instant;

/// Request latency in ms: min/avg/max as Apache's ServerStats reports them.
#[derive(Debug, Clone)]
pub struct Latency {
    pub min: u64,
    pub max: u64,
    pub total: u64,
    pub count: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            min: u64::MAX,
            max: 0,
            total: 0,
            count: 0,
        }
    }
}

impl Latency {
    pub fn record(&mut self, ms: u64) {
        self.min = self.min.min(ms);
        self.max = self.max.max(ms);
        self.total += ms;
        self.count += 1;
    }
    pub fn min(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min
        }
    }
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total as f64 / self.count as f64
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub latency: Latency,
    /// Sizes of the responses sent to clients (`mntr` `*_client_response_size`).
    pub client_responses: crate::metrics::BufferStats,
    pub started: Instant,
}

impl ServerStats {
    pub fn new() -> Self {
        ServerStats {
            packets_received: 0,
            packets_sent: 0,
            latency: Latency::default(),
            client_responses: Default::default(),
            started: Instant::now(),
        }
    }

    pub fn reset(&mut self) {
        let started = self.started;
        *self = ServerStats::new();
        self.started = started;
    }
}

impl Default for ServerStats {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone)]
pub struct ConnStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub established: Instant,
    pub established_wall_ms: i64,
    pub last_op: &'static str,
    pub last_cxid: i32,
    pub last_zxid: i64,
    pub last_response_wall_ms: i64,
    pub last_latency: u64,
    pub latency: Latency,
}

impl ConnStats {
    pub fn new(wall_ms: i64) -> Self {
        ConnStats {
            packets_received: 0,
            packets_sent: 0,
            established: Instant::now(),
            established_wall_ms: wall_ms,
            last_op: "NA",
            last_cxid: -1,
            last_zxid: -1,
            last_response_wall_ms: 0,
            last_latency: 0,
            latency: Latency::default(),
        }
    }

    pub fn reset(&mut self) {
        let (e, w) = (self.established, self.established_wall_ms);
        *self = ConnStats::new(w);
        self.established = e;
    }
}
