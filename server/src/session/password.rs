//! Session passwords as Apache derives them: the first 16 bytes of
//! `java.util.Random(sessionId ^ 0xB3415C00).nextBytes`, so that any server (ours or Apache's)
//! can recompute and check a reconnecting client's password.

const MULTIPLIER: i64 = 0x5DEECE66D;
const MASK: i64 = (1 << 48) - 1;
const SUPER_SECRET: i64 = 0xB3415C00;

/// Java's 48-bit linear congruential generator.
struct JavaRandom {
    seed: i64,
}

impl JavaRandom {
    fn new(seed: i64) -> Self {
        JavaRandom {
            seed: (seed ^ MULTIPLIER) & MASK,
        }
    }

    fn next_int(&mut self) -> i32 {
        self.seed = (self.seed.wrapping_mul(MULTIPLIER).wrapping_add(0xB)) & MASK;
        (self.seed >> 16) as i32
    }

    fn next_bytes(&mut self, out: &mut [u8]) {
        let mut i = 0;
        while i < out.len() {
            let mut rnd = self.next_int();
            let n = (out.len() - i).min(4);
            for _ in 0..n {
                out[i] = rnd as u8;
                rnd >>= 8;
                i += 1;
            }
        }
    }
}

pub fn session_password(session_id: i64) -> [u8; 16] {
    let mut r = JavaRandom::new(session_id ^ SUPER_SECRET);
    let mut p = [0u8; 16];
    r.next_bytes(&mut p);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_random() {
        // new java.util.Random(42).nextInt() == -1170105035
        assert_eq!(JavaRandom::new(42).next_int(), -1170105035);
        // new Random(0).nextBytes(byte[4]) == {96, -76, 32, -69}
        let mut b = [0u8; 4];
        JavaRandom::new(0).next_bytes(&mut b);
        assert_eq!(b, [96u8, 180, 32, 187]);
    }

    #[test]
    fn password_depends_on_session() {
        assert_ne!(session_password(1), session_password(2));
        // new Random(5L ^ 0xB3415C00L).nextBytes(byte[16]), from a JVM
        assert_eq!(
            session_password(5),
            [81, 208, 175, 74, 183, 96, 250, 197, 234, 242, 159, 143, 90, 150, 66, 58]
        );
    }
}
