//! Log lines captured where a test asserts what is logged.

/// The log lines written while `work` runs on this thread (JSON lines, as the functions write them).
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    pub async fn during<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        let subscriber = tracing_subscriber::fmt().json().with_writer(self.clone()).finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        work.await
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}
