//! TEMPORARY stand-in for `mailbox::Sender` until the mailbox lands.
use core::marker::PhantomData;

pub(crate) struct Sender<T>(PhantomData<T>);
pub(crate) struct Rejected<T>(T);
impl<T> Rejected<T> {
    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}
impl<T> Sender<T> {
    pub(crate) fn try_send(&self, msg: T) -> Result<(), Rejected<T>> {
        Err(Rejected(msg))
    }
}
