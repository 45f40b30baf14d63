//! Errors of the credit semaphore.

use core::fmt;

/// Why an [`acquire`](super::CreditSemaphore::acquire) failed.
///
/// # Examples
///
/// ```
/// use flowgate::credit::{AcquireError, CreditSemaphore};
/// use futures::executor::block_on;
///
/// let sem = CreditSemaphore::new(0);
/// let too_many = CreditSemaphore::MAX_CREDITS + 1;
/// assert_eq!(block_on(sem.acquire(too_many)).unwrap_err(), AcquireError::TooMany);
/// sem.close();
/// assert_eq!(block_on(sem.acquire(1)).unwrap_err(), AcquireError::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AcquireError {
    /// The semaphore was closed before the credit was granted.
    Closed,
    /// More than [`CreditSemaphore::MAX_CREDITS`](super::CreditSemaphore::MAX_CREDITS)
    /// were requested: such a request could never be granted.
    TooMany,
}

/// Why a [`try_acquire`](super::CreditSemaphore::try_acquire) failed.
///
/// # Examples
///
/// ```
/// use flowgate::credit::{CreditSemaphore, TryAcquireError};
///
/// let sem = CreditSemaphore::new(1);
/// let _held = sem.try_acquire(1).unwrap();
/// assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::NoCredits);
/// sem.close();
/// assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// Not enough credit is available now, or another acquire is waiting.
    NoCredits,
    /// The semaphore is closed.
    Closed,
    /// More than [`CreditSemaphore::MAX_CREDITS`](super::CreditSemaphore::MAX_CREDITS)
    /// were requested.
    TooMany,
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "credit semaphore closed",
            Self::TooMany => "requested more than CreditSemaphore::MAX_CREDITS",
        })
    }
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoCredits => "no credits available",
            Self::Closed => "credit semaphore closed",
            Self::TooMany => "requested more than CreditSemaphore::MAX_CREDITS",
        })
    }
}

impl std::error::Error for AcquireError {}
impl std::error::Error for TryAcquireError {}

impl From<AcquireError> for TryAcquireError {
    fn from(err: AcquireError) -> Self {
        match err {
            AcquireError::Closed => Self::Closed,
            AcquireError::TooMany => Self::TooMany,
        }
    }
}
