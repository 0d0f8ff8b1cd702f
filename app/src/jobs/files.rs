//! What the lab saves and what it is given: natively exports are files under the lab's
//! folder; in the browser they are downloads, and nothing leaves the visitor's machine.
//! Files dropped onto the window (or the page) arrive here as named bytes either way.

use std::sync::mpsc::{Receiver, Sender, channel};

/// Saves `bytes` as a new `what-<time>.<ext>` export: a file in `dir` natively, a download in
/// the browser. Says where it went.
pub fn save(dir: &std::path::Path, what: &str, ext: &str, bytes: &[u8]) -> sigmix::Result<String> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let path = crate::jobs::export_path(dir, what, ext)?;
        sigmix::files::write_bytes_atomic(&path, bytes)?;
        Ok(format!("saved {}", path.display()))
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = dir;
        let stamp = (js_sys::Date::now() / 1000.0) as u64;
        let name = format!("{what}-{stamp}.{ext}");
        download(&name, bytes).map_err(|e| sigmix::Error::Config(format!("the download of {name} failed: {e:?}")))?;
        Ok(format!("downloaded {name}"))
    }
}

#[cfg(target_arch = "wasm32")]
fn download(name: &str, bytes: &[u8]) -> Result<(), wasm_bindgen::JsValue> {
    use wasm_bindgen::JsCast;
    let array = js_sys::Array::new();
    array.push(&js_sys::Uint8Array::from(bytes));
    let blob = web_sys::Blob::new_with_u8_array_sequence(&array)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    // Released a minute later: some browsers read the blob after the click has returned.
    let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    window.set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000)?;
    Ok(())
}

/// The text kept under `path`: natively the file (`None` when there is none); in the browser
/// the page's storage (localStorage) under that name, so a reload finds the runs again.
pub fn read_kept(path: &str) -> sigmix::Result<Option<String>> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(sigmix::Error::Io { path: path.into(), source }),
        }
    }
    #[cfg(target_arch = "wasm32")]
    {
        Ok(page_storage().and_then(|s| s.get_item(path).ok().flatten()))
    }
}

/// Keeps `text` under `path` in the page's storage (the browser's stand-in for the sweep file
/// the native runner appends to); says so when the storage is full or switched off.
#[cfg(target_arch = "wasm32")]
pub fn keep_in_page(path: &str, text: &str) -> sigmix::Result<()> {
    let storage = page_storage().ok_or_else(|| {
        sigmix::Error::Config("this browser keeps no page storage: Download the runs to keep them".into())
    })?;
    storage.set_item(path, text).map_err(|_| {
        sigmix::Error::Config(format!(
            "the page's storage refused {} KB for {path} (full?): Download the runs to keep them",
            text.len() / 1024
        ))
    })
}

/// Keeps a sweep's `rows` under `path` in the page's storage, as the JSONL a native sweep
/// appends to its file (what the sweep panels do after each finished run in the browser).
#[cfg(target_arch = "wasm32")]
pub fn keep_rows_in_page(path: &str, rows: &[sigmix::sweep::SweepRow]) -> sigmix::Result<()> {
    keep_in_page(path, &sigmix::sweep::jsonl(rows, std::path::Path::new(path))?)
}

#[cfg(target_arch = "wasm32")]
fn page_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// `image` as PNG bytes (RGBA, 8 bits per channel).
pub fn png(image: &egui::ColorImage) -> sigmix::Result<Vec<u8>> {
    let fail = |e: png::EncodingError| sigmix::Error::Config(format!("the PNG could not be encoded: {e}"));
    let [w, h] = image.size;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w as u32, h as u32);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(fail)?;
    let rgba: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_srgba_unmultiplied()).collect();
    writer.write_image_data(&rgba).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}

/// Saves the lab's screen, as it is drawn next, as a PNG export (`what-<time>.png`): a
/// download in the browser, a file in `dir` natively (a failure is printed to stderr there).
pub fn save_screen(ctx: &egui::Context, dir: std::path::PathBuf, what: &'static str) {
    let callback = egui::ScreenshotCallback::new(move |image| {
        let saved = png(&image).and_then(|bytes| save(&dir, what, "png", &bytes));
        if let Err(e) = saved {
            eprintln!("sigmix: {e}");
        }
    });
    ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(callback));
}

/// A file dropped onto the lab: its name and contents.
#[derive(Clone, Debug)]
pub struct Dropped {
    /// File name (no folders).
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// What a dropped file is taken for, by its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropKind {
    /// `.jsonl`, `.ndjson`, `.json`: a sweep's runs, or a table of runs.
    Runs,
    /// `.csv`: a table of runs.
    Table,
    /// Anything else: the user's own text, a training domain.
    Text,
}

impl Dropped {
    /// What the file is taken for.
    pub fn kind(&self) -> DropKind {
        let ext = std::path::Path::new(&self.name).extension().and_then(|e| e.to_str()).unwrap_or("").to_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" | "json" => DropKind::Runs,
            "csv" => DropKind::Table,
            _ => DropKind::Text,
        }
    }

    /// Its contents as text (sweeps and tables are UTF-8).
    pub fn text(&self) -> sigmix::Result<&str> {
        std::str::from_utf8(&self.bytes)
            .map_err(|_| sigmix::Error::Config(format!("{}: not UTF-8 text; a sweep or a table of runs is", self.name)))
    }
}

/// Files dropped onto the window, read as they arrive (natively at once from their paths; in
/// the browser the page reads them asynchronously, so they come a frame or two later).
pub struct Inbox {
    tx: Sender<sigmix::Result<Dropped>>,
    rx: Receiver<sigmix::Result<Dropped>>,
}

impl Default for Inbox {
    fn default() -> Inbox {
        let (tx, rx) = channel();
        Inbox { tx, rx }
    }
}

impl Inbox {
    /// Starts reading the files dropped this frame and returns every file read so far; one
    /// that cannot be read is an error naming it.
    pub fn poll(&self, ctx: &egui::Context) -> Vec<sigmix::Result<Dropped>> {
        for file in ctx.input(|i| i.raw.dropped_files.clone()) {
            let name = file.path().file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            #[cfg(not(target_arch = "wasm32"))]
            let _ = self.tx.send(as_dropped(name, file.bytes()));
            #[cfg(target_arch = "wasm32")]
            {
                let (tx, ctx) = (self.tx.clone(), ctx.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = tx.send(as_dropped(name, file.bytes_async().await));
                    ctx.request_repaint();
                });
            }
        }
        self.rx.try_iter().collect()
    }
}

fn as_dropped(name: String, bytes: Result<Vec<u8>, String>) -> sigmix::Result<Dropped> {
    let bytes = bytes.map_err(|e| sigmix::Error::Config(format!("{name}: could not be read ({e})")))?;
    Ok(Dropped { name, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_screen_encodes_as_a_png_of_its_size_and_colours() {
        let mut image = egui::ColorImage::filled([3, 2], egui::Color32::from_rgb(10, 200, 30));
        image.pixels[5] = egui::Color32::WHITE;
        let bytes = png(&image).expect("encodes");
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
        let info = reader.next_frame(&mut buf).expect("a frame");
        assert_eq!((info.width, info.height), (3, 2));
        assert_eq!(&buf[..4], &[10, 200, 30, 255]);
        assert_eq!(&buf[20..24], &[255, 255, 255, 255]);
    }
}
