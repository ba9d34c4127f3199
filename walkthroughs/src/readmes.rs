//! The READMEs' output blocks, generated from real runs of the walkthroughs.
//!
//! A block is marked in a README as
//!
//! ```text
//! <!-- walkthrough-output: NAME -->
//! ```text
//! …what `cargo walkthroughs NAME` printed…
//! ```
//! <!-- end walkthrough-output -->
//! ```
//!
//! The book's pages (`docs/src/*.md`) may hold blocks too.
//!
//! `--readmes` writes every block from one fresh run of its walkthrough, so
//! a block shows one run's values throughout, and that run's picture beside
//! the README (`walkthrough.svg` for its first block, `NAME.svg` for any
//! later one) and in the book as `docs/src/pictures/NAME.svg`. `--check-readmes` runs them
//! again and fails when a block differs from the run in more than ids,
//! times, durations, ports and other numbers (each run of hex digits and
//! hyphens that holds a digit counts as one number, so that a request id
//! whose groups happen to be letters is one number too). Lines are compared as a multiset:
//! the runtime's and an extension's lines written at the same moment may
//! come in either order from one run to the next.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

const START: &str = "<!-- walkthrough-output: ";
/// The book's pages: their blocks show the pictures kept in its `pictures/`.
const BOOK: &str = "docs/src";
const END: &str = "<!-- end walkthrough-output -->";

/// A marked block: the README, the walkthrough, and the block's text.
struct Block {
    readme: PathBuf,
    name: String,
    text: String,
    /// The README's first block: its picture is `walkthrough.svg`.
    first: bool,
}

/// Every marked block of every README under `root`.
fn blocks(root: &Path) -> anyhow::Result<Vec<Block>> {
    let mut blocks = Vec::new();
    for readme in readmes(root)? {
        let text = std::fs::read_to_string(&readme)?;
        let mut rest = text.as_str();
        while let Some(at) = rest.find(START) {
            let after = &rest[at + START.len()..];
            let (name, body) = after
                .split_once(" -->")
                .with_context(|| format!("{}: a marker is not closed", readme.display()))?;
            let end = body
                .find(END)
                .with_context(|| format!("{}: {name} has no end marker", readme.display()))?;
            let first = !blocks.iter().any(|b: &Block| b.readme == readme);
            blocks.push(Block {
                readme: readme.clone(),
                name: name.trim().to_string(),
                text: fenced_text(&body[..end]),
                first,
            });
            rest = &body[end..];
        }
    }
    Ok(blocks)
}

/// The pages that may hold blocks: every README.md of the repository,
/// outside build and tool folders, and the book's pages.
fn readmes(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = readme_files(root)?;
    let book = root.join(BOOK);
    if book.is_dir() {
        for entry in std::fs::read_dir(&book)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "md") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The README.md files of the repository, outside build and tool folders.
fn readme_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if path.is_dir() {
                if !name.starts_with('.')
                    && !["target", "node_modules", "cdk.out"].contains(&&*name)
                {
                    folders.push(path);
                }
            } else if name == "README.md" {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// What is inside the block's fence.
fn fenced_text(block: &str) -> String {
    let lines: Vec<&str> = block.lines().collect();
    let inner = lines
        .iter()
        .position(|l| l.starts_with("```"))
        .and_then(|open| {
            let close = lines[open + 1..]
                .iter()
                .position(|l| l.starts_with("```"))?;
            Some(&lines[open + 1..open + 1 + close])
        })
        .unwrap_or(&[]);
    inner.join("\n")
}

/// The fenced block as it is written into a README.
fn fenced(name: &str, output: &str) -> String {
    format!(
        "{START}{name} -->\n```text\n{}\n```\n{END}",
        output.trim_end()
    )
}

/// One line, with every number (a run of hex digits and hyphens holding a
/// digit) as `#`.
fn normalised(line: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().any(|c| c.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in line.trim_end().chars() {
        if c.is_ascii_hexdigit() || c == '-' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Lines of `expected` missing from `actual`, and lines of `actual` that
/// `expected` lacks, after normalising.
fn differences(expected: &str, actual: &str) -> (Vec<String>, Vec<String>) {
    let count = |text: &str| {
        let mut lines: BTreeMap<String, i64> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            *lines.entry(normalised(line)).or_default() += 1;
        }
        lines
    };
    let (want, got) = (count(expected), count(actual));
    let missing = want
        .iter()
        .filter(|(line, n)| got.get(*line).copied().unwrap_or(0) < **n)
        .map(|(line, _)| line.clone())
        .collect();
    let extra = got
        .iter()
        .filter(|(line, n)| want.get(*line).copied().unwrap_or(0) < **n)
        .map(|(line, _)| line.clone())
        .collect();
    (missing, extra)
}

/// What a walkthrough's picture is compared on: its lines, numbers as `#`,
/// without the time labels (how many distinct times a run prints varies).
fn picture_lines(svg: &str) -> String {
    svg.lines()
        .filter(|l| !l.contains(r#"class="time""#))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A block's picture beside its README; none for a page of the book, which
/// shows the one in its `pictures/`.
fn picture_beside(root: &Path, block: &Block) -> Option<PathBuf> {
    if block.readme.starts_with(root.join(BOOK)) {
        None
    } else if block.first {
        Some(block.readme.with_file_name("walkthrough.svg"))
    } else {
        Some(block.readme.with_file_name(format!("{}.svg", block.name)))
    }
}

/// The picture in the book, which mdBook copies only from its own folder.
fn picture_in_book(root: &Path, name: &str) -> PathBuf {
    root.join("docs/src/pictures").join(format!("{name}.svg"))
}

/// Runs each walkthrough named by a block once, as a child process, and
/// returns what it printed, with the repository's path made relative; it
/// leaves its picture at `crate::picture_path`.
fn outputs(
    root: &Path,
    binaries: &Path,
    names: &[String],
) -> anyhow::Result<BTreeMap<String, String>> {
    let me = std::env::current_exe()?;
    let mut outputs = BTreeMap::new();
    for name in names {
        if outputs.contains_key(name) {
            continue;
        }
        let run = std::process::Command::new(&me)
            .arg(name)
            .arg("--prebuilt")
            .arg(binaries)
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("cannot run the {name} walkthrough"))?;
        if !run.status.success() {
            bail!("the {name} walkthrough failed ({})", run.status);
        }
        let prefix = format!("{}/", root.display());
        let text = String::from_utf8_lossy(&run.stdout).replace(&prefix, "");
        outputs.insert(name.clone(), text.trim().to_string());
    }
    Ok(outputs)
}

/// Writes every block from a fresh run.
pub fn write(root: &Path, binaries: &Path) -> anyhow::Result<()> {
    let blocks = blocks(root)?;
    let names: Vec<String> = blocks.iter().map(|b| b.name.clone()).collect();
    let outputs = outputs(root, binaries, &names)?;
    let mut by_readme: BTreeMap<&Path, Vec<&Block>> = BTreeMap::new();
    for block in &blocks {
        by_readme.entry(&block.readme).or_default().push(block);
    }
    for (readme, blocks) in by_readme {
        let mut text = std::fs::read_to_string(readme)?;
        for block in &blocks {
            let start = text
                .find(&format!("{START}{} -->", block.name))
                .expect("found when read");
            let end = start + text[start..].find(END).expect("found when read") + END.len();
            text.replace_range(start..end, &fenced(&block.name, &outputs[&block.name]));
        }
        std::fs::write(readme, text)?;
        println!("wrote the output blocks of {}", readme.display());
        for block in &blocks {
            let picture = super::picture_path(&block.name);
            if let Some(beside) = picture_beside(root, block) {
                std::fs::copy(&picture, beside)?;
            }
            let in_book = picture_in_book(root, &block.name);
            std::fs::create_dir_all(in_book.parent().expect("a folder"))?;
            std::fs::copy(&picture, in_book)?;
        }
    }
    Ok(())
}

/// Fails when a block differs from a fresh run beyond its numbers.
pub fn check(root: &Path, binaries: &Path) -> anyhow::Result<()> {
    let blocks = blocks(root)?;
    if blocks.is_empty() {
        bail!("no README has a walkthrough-output block");
    }
    let names: Vec<String> = blocks.iter().map(|b| b.name.clone()).collect();
    let outputs = outputs(root, binaries, &names)?;
    let mut stale = Vec::new();
    for block in &blocks {
        let (mut missing, mut extra) = differences(&block.text, &outputs[&block.name]);
        let fresh = std::fs::read_to_string(super::picture_path(&block.name))?;
        for picture in picture_beside(root, block)
            .into_iter()
            .chain([picture_in_book(root, &block.name)])
        {
            let committed = std::fs::read_to_string(&picture).unwrap_or_default();
            let (picture_missing, picture_extra) =
                differences(&picture_lines(&committed), &picture_lines(&fresh));
            let file = picture.strip_prefix(root).unwrap_or(&picture).display();
            missing.extend(picture_missing.into_iter().map(|l| format!("{file}: {l}")));
            extra.extend(picture_extra.into_iter().map(|l| format!("{file}: {l}")));
        }
        if missing.is_empty() && extra.is_empty() {
            println!(
                "{}: {} matches a fresh run",
                block.readme.display(),
                block.name
            );
            continue;
        }
        eprintln!(
            "{}: the {} block differs from a fresh run (numbers shown as #):",
            block.readme.display(),
            block.name
        );
        for line in &missing {
            eprintln!("  only in the README: {line}");
        }
        for line in &extra {
            eprintln!("  only in the run:    {line}");
        }
        stale.push(block.readme.display().to_string());
    }
    if !stale.is_empty() {
        bail!(
            "{} block(s) out of date: run `cargo walkthroughs --readmes` and commit the result",
            stale.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_ids_and_times_are_normalised_words_are_not() {
        assert_eq!(
            normalised(
                "   0.084s [platform] REPORT RequestId: 88fdab44-532e-4ed7-b1c7-ff35332f8719 Duration: 0.36 ms"
            ),
            "   #.#s [platform] REPORT RequestId: # Duration: #.# ms"
        );
        assert_eq!(
            normalised("request 4ae594ae-aaec-4da5-b6d9-0a3c3bb07951 answered"),
            "request # answered"
        );
        assert_eq!(
            normalised("added a bead, up-to-date"),
            "added a bead, up-to-date"
        );
    }

    #[test]
    fn an_edited_line_is_a_difference_an_order_is_not() {
        let committed = "a 1\nb 2\nc 3";
        assert_eq!(differences(committed, "b 7\na 9\nc 1"), (vec![], vec![]));
        let (missing, extra) = differences(committed, "a 1\nb 2\nc 3 edited");
        assert_eq!(
            (missing, extra),
            (vec!["c #".to_string()], vec!["c # edited".to_string()])
        );
        let (missing, _) = differences("a 1\na 1", "a 1");
        assert_eq!(missing, vec!["a #".to_string()]);
    }

    #[test]
    fn blocks_are_read_and_written_between_their_markers() {
        let readme = format!(
            "intro\n\n{}\n\nafter\n",
            fenced("lifecycle", "line 1\nline 2\n")
        );
        let dir = std::env::temp_dir().join(format!("walkthroughs-readme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("README.md"), &readme).unwrap();
        let found = blocks(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "lifecycle");
        assert_eq!(found[0].text, "line 1\nline 2");
    }
}
