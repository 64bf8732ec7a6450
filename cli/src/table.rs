//! Plain-text tables: columns padded to their widest cell, like bpftool's listings.

/// A table with a header row.
#[derive(Debug)]
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders with two-space indentation and two spaces between columns; the last
    /// column is not padded.
    pub fn render(&self) -> String {
        let cols = self.header.len();
        let mut width = vec![0; cols];
        for (i, h) in self.header.iter().enumerate() {
            width[i] = h.len();
        }
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(cols) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: Vec<&str>| {
            let mut l = String::from("  ");
            for (i, c) in cells.iter().enumerate() {
                l.push_str(c);
                if i + 1 < cells.len() {
                    l.extend(std::iter::repeat_n(' ', width[i] - c.chars().count() + 2));
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(self.header.clone());
        for r in &self.rows {
            let mut cells: Vec<&str> = r.iter().map(String::as_str).collect();
            cells.resize(cols, "");
            line(cells);
        }
        out
    }
}
