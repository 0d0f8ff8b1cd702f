//! What the Mixture lab saves: the runs as JSONL, the fits as JSON, the sweep's figure.

use super::MixturePanel;

impl MixturePanel {
    /// The runs as JSON Lines, the `sigmix sweep` format.
    pub(super) fn rows_jsonl(&self) -> sigmix::Result<String> {
        sigmix::sweep::jsonl(&self.rows, std::path::Path::new(&self.path))
    }

    pub(super) fn export_rows(&self) -> sigmix::Result<String> {
        crate::jobs::files::save(&self.export_dir, &self.preset, "jsonl", self.rows_jsonl()?.as_bytes())
    }

    pub(super) fn export_fits(&self) -> sigmix::Result<String> {
        let json = serde_json::to_string_pretty(&self.fits)
            .map_err(|e| sigmix::Error::Config(format!("the fits did not serialise: {e}")))?;
        crate::jobs::files::save(&self.export_dir, "fits", "json", json.as_bytes())
    }

    /// The sweep's figure: a PNG file natively, an SVG download in the page.
    pub(super) fn export_plot(&self) -> sigmix::Result<String> {
        let title = format!("{} — {} runs, law fitted below the largest size", self.path, self.rows.len());
        let figure = crate::figure::Figure::from_fitted_runs(&self.rows, &self.fits, title, &self.target)?;
        #[cfg(not(target_arch = "wasm32"))]
        {
            let path = crate::jobs::export_path(&self.export_dir, "sweep", "png")?;
            figure.write(&path, (1400, 1000))?;
            Ok(format!("saved {}", path.display()))
        }
        #[cfg(target_arch = "wasm32")]
        {
            let svg = figure
                .svg((1400, 1000))
                .map_err(|e| sigmix::Error::Config(format!("the sweep's figure could not be drawn: {e}")))?;
            crate::jobs::files::save(&self.export_dir, "sweep", "svg", svg.as_bytes())
        }
    }
}
