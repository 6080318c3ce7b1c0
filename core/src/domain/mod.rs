//! Domain value types shared by the job payloads and (later) the store.

mod phone;

pub use phone::Phone;
