//! A session shared between JS handles and the runs they start.
//!
//! A run is a promise: it owns the session until it settles, so a second call meanwhile is
//! refused ("busy") instead of running on a session borrowed twice, and `release()` during a
//! run drops the session once the run ends.

use std::cell::RefCell;
use std::rc::Rc;

use edgewise_runtime::Session;
use wasm_bindgen::JsError;

/// Where the session is: between calls, inside a run, or released.
enum Slot {
    Ready(Box<Session>),
    Running,
    Released,
}

/// A session that JS handles hold (cloning shares it).
#[derive(Clone)]
pub(crate) struct SessionCell(Rc<RefCell<Slot>>);

fn released() -> JsError {
    edgewise_runtime::Error::Released.into()
}

fn busy() -> JsError {
    JsError::new("the session is busy with another call; await it first")
}

impl SessionCell {
    pub(crate) fn new(session: Session) -> SessionCell {
        SessionCell(Rc::new(RefCell::new(Slot::Ready(Box::new(session)))))
    }

    /// `f` on the session between calls; an error while a run holds it or once released.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Session) -> T) -> Result<T, JsError> {
        match &*self.0.borrow() {
            Slot::Ready(s) => Ok(f(s)),
            Slot::Running => Err(busy()),
            Slot::Released => Err(released()),
        }
    }

    /// Takes the session for a run; it comes back when the lease is dropped.
    pub(crate) fn lease(&self) -> Result<Lease, JsError> {
        let taken = std::mem::replace(&mut *self.0.borrow_mut(), Slot::Running);
        match taken {
            Slot::Ready(session) => Ok(Lease {
                cell: self.0.clone(),
                session: Some(session),
            }),
            other => {
                let err = if matches!(other, Slot::Running) {
                    busy()
                } else {
                    released()
                };
                *self.0.borrow_mut() = other;
                Err(err)
            }
        }
    }

    /// Drops the session now (or, during a run, when the run ends); later calls fail with
    /// "the session was released".
    pub(crate) fn release(&self) {
        *self.0.borrow_mut() = Slot::Released;
    }
}

/// The session taken by one run.
pub(crate) struct Lease {
    cell: Rc<RefCell<Slot>>,
    session: Option<Box<Session>>,
}

impl Lease {
    /// The leased session (only `Drop` takes it out, so this never fails in practice).
    pub(crate) fn session(&mut self) -> Result<&mut Session, JsError> {
        self.session.as_deref_mut().ok_or_else(released)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut slot = self.cell.borrow_mut();
        // A release() during the run leaves `Released`: the session is dropped here.
        if matches!(*slot, Slot::Running)
            && let Some(session) = self.session.take()
        {
            *slot = Slot::Ready(session);
        }
    }
}
