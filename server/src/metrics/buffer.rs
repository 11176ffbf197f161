//! Apache's BufferStats: the size of the last, smallest and largest buffer sent, for the
//! leader's proposals and the responses to clients (`mntr`, `stat`, the AdminServer).

/// Buffer sizes in bytes; all -1 until the first one is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferStats {
    pub last: i64,
    pub min: i64,
    pub max: i64,
}

impl Default for BufferStats {
    fn default() -> Self {
        BufferStats {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

impl BufferStats {
    pub fn record(&mut self, size: usize) {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        self.last = size;
        if self.min == -1 || size < self.min {
            self.min = size;
        }
        self.max = self.max.max(size);
    }

    /// Back to "nothing sent yet" (`srst`).
    pub fn reset(&mut self) {
        *self = BufferStats::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_last_min_max_from_minus_one() {
        let mut b = BufferStats::default();
        assert_eq!((b.last, b.min, b.max), (-1, -1, -1));
        b.record(40);
        b.record(12);
        b.record(25);
        assert_eq!((b.last, b.min, b.max), (25, 12, 40));
        b.record(0);
        assert_eq!((b.last, b.min, b.max), (0, 0, 40));
        b.reset();
        assert_eq!(b, BufferStats::default());
    }
}
