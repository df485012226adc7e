//! When a run must stop its work, on the monotonic clock (tokio's, so a test with a paused clock
//! moves it).

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// The instant a run's work must have stopped: each call it awaits is cut off there, and no new
/// piece of work starts after it. What the caller keeps back beyond it (a margin) is for
/// recording where the work stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

/// The deadline came before a piece of work ended, or before it began: the work is not done, and
/// it did not fail either.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stopped at the run's deadline")]
pub struct Stopped;

impl Deadline {
    /// No deadline: work runs to its end.
    pub const NEVER: Self = Self(None);

    pub fn at(instant: Instant) -> Self {
        Self(Some(instant))
    }

    /// `margin` before a Lambda invocation's deadline (milliseconds since the epoch, as the
    /// runtime gives it). The wall clock is read once, here; from then on the monotonic clock.
    pub fn before_lambda_deadline(deadline_ms: u64, margin: Duration) -> Self {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let remaining = Duration::from_millis(deadline_ms.saturating_sub(u64::try_from(now_ms).unwrap_or(u64::MAX)));
        Self::at(Instant::now() + remaining.saturating_sub(margin))
    }

    pub fn passed(&self) -> bool {
        self.0.is_some_and(|at| Instant::now() >= at)
    }

    /// `work`, unless the deadline comes first: then it is dropped where it stands (or never
    /// started, if the deadline has already passed).
    pub async fn bound<T>(&self, work: impl Future<Output = T>) -> Result<T, Stopped> {
        match self.0 {
            None => Ok(work.await),
            Some(_) if self.passed() => Err(Stopped),
            Some(at) => tokio::time::timeout_at(at, work).await.map_err(|_| Stopped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn work_is_cut_off_at_the_deadline_and_not_started_after_it() {
        let deadline = Deadline::at(Instant::now() + Duration::from_secs(2));
        let quick = deadline.bound(tokio::time::sleep(Duration::from_secs(1))).await;
        assert_eq!(quick, Ok(()));
        let slow = deadline.bound(tokio::time::sleep(Duration::from_secs(5))).await;
        assert_eq!(slow, Err(Stopped));
        assert!(deadline.passed());
        let mut started = false;
        let late = deadline.bound(async { started = true }).await;
        assert_eq!((late, started), (Err(Stopped), false), "not begun once past");
        assert_eq!(Deadline::NEVER.bound(async { 7 }).await, Ok(7));
        assert!(!Deadline::NEVER.passed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_lambda_deadline_is_kept_back_by_the_margin_and_one_past_is_now() {
        let epoch_ms = |from_now: Duration| {
            u64::try_from((SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + from_now).as_millis()).unwrap()
        };
        let deadline = Deadline::before_lambda_deadline(epoch_ms(Duration::from_secs(20)), Duration::from_secs(15));
        assert!(!deadline.passed());
        tokio::time::advance(Duration::from_millis(4_900)).await;
        assert!(!deadline.passed(), "about 5 s to work");
        tokio::time::advance(Duration::from_millis(200)).await;
        assert!(deadline.passed());
        assert!(Deadline::before_lambda_deadline(0, Duration::from_secs(15)).passed(), "no underflow");
    }
}
