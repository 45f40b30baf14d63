//! Held credit: [`Credits`] (borrowed) and [`OwnedCredits`] (`'static`).

use super::CreditSemaphore;
use core::fmt;
use std::sync::Arc;

/// Credit held from a [`CreditSemaphore`]; returned to it on drop.
///
/// # Examples
///
/// ```
/// let sem = flowgate::credit::CreditSemaphore::new(4);
/// let mut held = sem.try_acquire(4).unwrap();
/// let part = held.split(1).unwrap();     // 3 + 1
/// drop(part);
/// assert_eq!(sem.available(), 1);
/// held.forget();                         // never comes back
/// assert_eq!(sem.available(), 1);
/// ```
#[must_use = "credit is returned as soon as the guard is dropped"]
pub struct Credits<'a> {
    sem: &'a CreditSemaphore,
    count: usize,
}

/// Credit held from an `Arc<CreditSemaphore>`; `'static`, returned on drop.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// let sem = Arc::new(flowgate::credit::CreditSemaphore::new(2));
/// futures::executor::block_on(async {
/// let held = Arc::clone(&sem).acquire_owned(2).await.unwrap();
/// assert_eq!(held.count(), 2);
/// drop(held);
/// assert_eq!(sem.available(), 2);
/// });
/// ```
#[must_use = "credit is returned as soon as the guard is dropped"]
pub struct OwnedCredits {
    sem: Arc<CreditSemaphore>,
    count: usize,
}

impl<'a> Credits<'a> {
    #[inline]
    pub(super) fn new(sem: &'a CreditSemaphore, count: usize) -> Self {
        Self { sem, count }
    }

    /// How many credits this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = flowgate::credit::CreditSemaphore::new(3);
    /// assert_eq!(sem.try_acquire(2).unwrap().count(), 2);
    /// ```
    pub fn count(&self) -> usize {
        self.count
    }

    /// Consumes the guard without returning its credit: it comes back only
    /// through [`CreditSemaphore::add_credits`] (a spent credit, in credit
    /// based flow control).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = flowgate::credit::CreditSemaphore::new(1);
    /// sem.try_acquire(1).unwrap().forget();
    /// assert_eq!(sem.available(), 0);
    /// sem.add_credits(1);
    /// assert_eq!(sem.available(), 1);
    /// ```
    pub fn forget(mut self) {
        self.count = 0;
    }

    /// Splits `n` credits off into a guard of their own; `None` (and this
    /// guard unchanged) if it holds fewer than `n`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = flowgate::credit::CreditSemaphore::new(3);
    /// let mut held = sem.try_acquire(3).unwrap();
    /// assert!(held.split(4).is_none());
    /// let one = held.split(1).unwrap();
    /// assert_eq!((held.count(), one.count()), (2, 1));
    /// ```
    pub fn split(&mut self, n: usize) -> Option<Self> {
        self.count = self.count.checked_sub(n)?;
        Some(Self::new(self.sem, n))
    }

    /// Takes `other`'s credit into this guard.
    ///
    /// # Panics
    ///
    /// If `other` comes from a different semaphore.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = flowgate::credit::CreditSemaphore::new(3);
    /// let mut a = sem.try_acquire(1).unwrap();
    /// a.merge(sem.try_acquire(2).unwrap());
    /// assert_eq!(a.count(), 3);
    /// ```
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            core::ptr::eq(self.sem, other.sem),
            "Credits::merge: the credits come from different semaphores"
        );
        self.count += core::mem::take(&mut other.count);
    }
}

impl Drop for Credits<'_> {
    #[inline]
    fn drop(&mut self) {
        self.sem.release(self.count);
    }
}

impl fmt::Debug for Credits<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credits")
            .field("count", &self.count)
            .finish()
    }
}

impl OwnedCredits {
    #[inline]
    pub(super) fn new(sem: Arc<CreditSemaphore>, count: usize) -> Self {
        Self { sem, count }
    }

    /// How many credits this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(flowgate::credit::CreditSemaphore::new(3));
    /// futures::executor::block_on(async {
    /// assert_eq!(sem.acquire_owned(2).await.unwrap().count(), 2);
    /// });
    /// ```
    pub fn count(&self) -> usize {
        self.count
    }

    /// The semaphore this credit comes from.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(flowgate::credit::CreditSemaphore::new(1));
    /// futures::executor::block_on(async {
    /// let held = Arc::clone(&sem).acquire_owned(1).await.unwrap();
    /// assert!(Arc::ptr_eq(held.semaphore(), &sem));
    /// });
    /// ```
    pub fn semaphore(&self) -> &Arc<CreditSemaphore> {
        &self.sem
    }

    /// Consumes the guard without returning its credit (see
    /// [`Credits::forget`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(flowgate::credit::CreditSemaphore::new(1));
    /// futures::executor::block_on(async {
    /// Arc::clone(&sem).acquire_owned(1).await.unwrap().forget();
    /// assert_eq!(sem.available(), 0);
    /// });
    /// ```
    pub fn forget(mut self) {
        self.count = 0;
    }

    /// Splits `n` credits off into a guard of their own; `None` (and this
    /// guard unchanged) if it holds fewer than `n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(flowgate::credit::CreditSemaphore::new(2));
    /// futures::executor::block_on(async {
    /// let mut held = sem.acquire_owned(2).await.unwrap();
    /// let one = held.split(1).unwrap();
    /// assert_eq!((held.count(), one.count()), (1, 1));
    /// });
    /// ```
    pub fn split(&mut self, n: usize) -> Option<Self> {
        self.count = self.count.checked_sub(n)?;
        Some(Self::new(Arc::clone(&self.sem), n))
    }

    /// Takes `other`'s credit into this guard.
    ///
    /// # Panics
    ///
    /// If `other` comes from a different semaphore.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(flowgate::credit::CreditSemaphore::new(2));
    /// futures::executor::block_on(async {
    /// let mut a = Arc::clone(&sem).acquire_owned(1).await.unwrap();
    /// a.merge(sem.acquire_owned(1).await.unwrap());
    /// assert_eq!(a.count(), 2);
    /// });
    /// ```
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            Arc::ptr_eq(&self.sem, &other.sem),
            "OwnedCredits::merge: the credits come from different semaphores"
        );
        self.count += core::mem::take(&mut other.count);
    }
}

impl Drop for OwnedCredits {
    #[inline]
    fn drop(&mut self) {
        self.sem.release(self.count);
    }
}

impl fmt::Debug for OwnedCredits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedCredits")
            .field("count", &self.count)
            .finish()
    }
}
