//! PLY import/export in the vertex layout 2DGS tools write:
//! `x y z nx ny nz f_dc_0 f_dc_1 f_dc_2 [f_rest_*] opacity scale_0 scale_1 rot_0 rot_1 rot_2 rot_3`.
//!
//! Reads binary little-endian and ASCII files with any numeric property types and in any property order;
//! writes binary little-endian float32 through a temporary file renamed into place, so an interrupted export
//! never leaves a truncated model behind.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{Splats, sh_coeffs};

/// A PLY file that could not be read or written, naming the file and the problem.
#[derive(Debug, thiserror::Error)]
#[error("PLY file {}: {problem}", path.display())]
pub struct PlyError {
    pub path: PathBuf,
    pub problem: PlyProblem,
}

/// What is wrong with a PLY file.
#[derive(Debug, thiserror::Error)]
pub enum PlyProblem {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not a PLY file (it does not start with 'ply')")]
    NotPly,
    #[error("header line {line}: {what}")]
    BadHeader { line: usize, what: String },
    #[error("format '{0}' is not supported (binary_little_endian or ascii)")]
    UnsupportedFormat(String),
    #[error("no 'vertex' element")]
    NoVertices,
    #[error("missing vertex property '{0}'")]
    MissingProperty(String),
    #[error("{0} f_rest properties do not match any SH degree (9, 24 or 45 expected)")]
    BadShRest(usize),
    #[error("the header declares {declared} vertices but the data holds only {found}")]
    Truncated { declared: usize, found: usize },
    #[error("the header declares {declared} vertices but data continues after them")]
    TrailingData { declared: usize },
    #[error("vertex {vertex}: cannot parse '{token}' as a number")]
    BadNumber { vertex: usize, token: String },
    #[error("vertex {vertex}: property '{property}' is {value} (not finite)")]
    NonFinite { vertex: usize, property: String, value: f64 },
}

#[derive(Debug, Clone, Copy)]
enum Scalar {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
}

impl Scalar {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "char" | "int8" => Self::I8,
            "uchar" | "uint8" => Self::U8,
            "short" | "int16" => Self::I16,
            "ushort" | "uint16" => Self::U16,
            "int" | "int32" => Self::I32,
            "uint" | "uint32" => Self::U32,
            "float" | "float32" => Self::F32,
            "double" | "float64" => Self::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Self::I8 | Self::U8 => 1,
            Self::I16 | Self::U16 => 2,
            Self::I32 | Self::U32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    fn read_le(self, b: &[u8]) -> f64 {
        match self {
            Self::I8 => b[0] as i8 as f64,
            Self::U8 => b[0] as f64,
            Self::I16 => i16::from_le_bytes([b[0], b[1]]) as f64,
            Self::U16 => u16::from_le_bytes([b[0], b[1]]) as f64,
            Self::I32 => i32::from_le_bytes(b[..4].try_into().unwrap()) as f64,
            Self::U32 => u32::from_le_bytes(b[..4].try_into().unwrap()) as f64,
            Self::F32 => f32::from_le_bytes(b[..4].try_into().unwrap()) as f64,
            Self::F64 => f64::from_le_bytes(b[..8].try_into().unwrap()),
        }
    }
}

struct Element {
    name: String,
    count: usize,
    properties: Vec<(String, Scalar)>,
}

struct Header {
    binary: bool,
    elements: Vec<Element>,
}

fn read_header(reader: &mut impl BufRead) -> Result<Header, PlyProblem> {
    let mut line = String::new();
    let mut bytes = Vec::new();
    // Header lines are read as bytes so a binary non-PLY file is reported as such, not as bad UTF-8.
    let mut next_line = |line: &mut String| -> Result<bool, PlyProblem> {
        bytes.clear();
        let read = reader.read_until(b'\n', &mut bytes)?;
        *line = String::from_utf8_lossy(&bytes).into_owned();
        Ok(read > 0)
    };
    if !next_line(&mut line)? || line.trim_end() != "ply" {
        return Err(PlyProblem::NotPly);
    }
    let mut binary = None;
    let mut elements: Vec<Element> = Vec::new();
    let mut number = 1;
    loop {
        number += 1;
        if !next_line(&mut line)? {
            return Err(PlyProblem::BadHeader { line: number, what: "file ends before 'end_header'".into() });
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let bad = |what: &str| PlyProblem::BadHeader { line: number, what: what.to_string() };
        match words.as_slice() {
            ["end_header"] => break,
            [] | ["comment", ..] | ["obj_info", ..] => {}
            ["format", kind, _version] => {
                binary = Some(match *kind {
                    "binary_little_endian" => true,
                    "ascii" => false,
                    other => return Err(PlyProblem::UnsupportedFormat(other.to_string())),
                })
            }
            ["element", name, count] => elements.push(Element {
                name: name.to_string(),
                count: count.parse().map_err(|_| bad("element count is not a whole number"))?,
                properties: Vec::new(),
            }),
            ["property", "list", ..] => return Err(bad("list properties are not supported")),
            ["property", ty, name] => {
                let ty = Scalar::parse(ty).ok_or_else(|| bad(&format!("unknown property type '{ty}'")))?;
                elements
                    .last_mut()
                    .ok_or_else(|| bad("property before any element"))?
                    .properties
                    .push((name.to_string(), ty));
            }
            _ => return Err(bad(&format!("cannot understand '{}'", line.trim_end()))),
        }
    }
    let binary = binary.ok_or(PlyProblem::BadHeader { line: number, what: "no 'format' line".into() })?;
    Ok(Header { binary, elements })
}

/// Column positions of the properties splatrack needs.
struct Columns {
    mean: [usize; 3],
    dc: [usize; 3],
    rest: Vec<usize>,
    opacity: usize,
    scale: [usize; 2],
    rot: [usize; 4],
    sh_degree: u32,
}

fn find_columns(props: &[(String, Scalar)]) -> Result<Columns, PlyProblem> {
    let find = |name: &str| {
        props.iter().position(|(n, _)| n == name).ok_or_else(|| PlyProblem::MissingProperty(name.to_string()))
    };
    let rest_count = props.iter().filter(|(n, _)| n.starts_with("f_rest_")).count();
    let sh_degree = match rest_count {
        0 => 0,
        9 => 1,
        24 => 2,
        45 => 3,
        n => return Err(PlyProblem::BadShRest(n)),
    };
    Ok(Columns {
        mean: [find("x")?, find("y")?, find("z")?],
        dc: [find("f_dc_0")?, find("f_dc_1")?, find("f_dc_2")?],
        rest: (0..rest_count).map(|k| find(&format!("f_rest_{k}"))).collect::<Result<_, _>>()?,
        opacity: find("opacity")?,
        scale: [find("scale_0")?, find("scale_1")?],
        rot: [find("rot_0")?, find("rot_1")?, find("rot_2")?, find("rot_3")?],
        sh_degree,
    })
}

/// Reads a 2DGS PLY file. Every value must be finite.
pub fn read_ply(path: &Path) -> Result<Splats, PlyError> {
    let wrap = |problem| PlyError { path: path.to_path_buf(), problem };
    let file = std::fs::File::open(path).map_err(|e| wrap(e.into()))?;
    read_ply_from(BufReader::new(file)).map_err(wrap)
}

fn read_ply_from(mut reader: impl BufRead) -> Result<Splats, PlyProblem> {
    let header = read_header(&mut reader)?;
    let vertex_at = header.elements.iter().position(|e| e.name == "vertex").ok_or(PlyProblem::NoVertices)?;
    if header.elements[..vertex_at].iter().any(|e| e.count > 0) {
        return Err(PlyProblem::BadHeader { line: 0, what: "elements before 'vertex' are not supported".into() });
    }
    let vertex = &header.elements[vertex_at];
    let columns = find_columns(&vertex.properties)?;
    let n = vertex.count;
    let width = vertex.properties.len();
    let mut values = vec![0f64; n * width];
    if header.binary {
        let stride: usize = vertex.properties.iter().map(|(_, t)| t.size()).sum();
        let mut row = vec![0u8; stride];
        for v in 0..n {
            reader.read_exact(&mut row).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => PlyProblem::Truncated { declared: n, found: v },
                _ => e.into(),
            })?;
            let mut at = 0;
            for (p, (_, ty)) in vertex.properties.iter().enumerate() {
                values[v * width + p] = ty.read_le(&row[at..]);
                at += ty.size();
            }
        }
        let mut rest = [0u8; 1];
        let only_empty_elements = header.elements[vertex_at + 1..].iter().all(|e| e.count == 0);
        if only_empty_elements && reader.read(&mut rest)? > 0 {
            return Err(PlyProblem::TrailingData { declared: n });
        }
    } else {
        let mut lines = reader.lines();
        let mut v = 0;
        while v < n {
            let Some(line) = lines.next() else {
                return Err(PlyProblem::Truncated { declared: n, found: v });
            };
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let tokens: Vec<&str> = line.split_whitespace().collect();
            if tokens.len() != width {
                return Err(PlyProblem::BadNumber {
                    vertex: v,
                    token: format!("{} values, expected {width}", tokens.len()),
                });
            }
            for (p, token) in tokens.iter().enumerate() {
                values[v * width + p] =
                    token.parse().map_err(|_| PlyProblem::BadNumber { vertex: v, token: token.to_string() })?;
            }
            v += 1;
        }
        if header.elements[vertex_at + 1..].iter().all(|e| e.count == 0) {
            for line in lines {
                if !line?.trim().is_empty() {
                    return Err(PlyProblem::TrailingData { declared: n });
                }
            }
        }
    }
    if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
        return Err(PlyProblem::NonFinite {
            vertex: bad / width,
            property: vertex.properties[bad % width].0.clone(),
            value: values[bad],
        });
    }
    Ok(splats_from_columns(&values, width, n, &columns))
}

fn splats_from_columns(values: &[f64], width: usize, n: usize, c: &Columns) -> Splats {
    let k = sh_coeffs(c.sh_degree);
    let mut s = Splats { sh_degree: c.sh_degree, ..Default::default() };
    for v in 0..n {
        let row = &values[v * width..(v + 1) * width];
        let get = |i: usize| row[i] as f32;
        s.means.push(c.mean.map(get));
        s.quats.push(c.rot.map(get));
        s.log_scales.push(c.scale.map(get));
        s.opacity_logits.push(get(c.opacity));
        s.sh.push(c.dc.map(get));
        // f_rest is channel-major: all red coefficients of bands ≥ 1, then green, then blue.
        for coef in 1..k {
            s.sh.push([0, 1, 2].map(|ch| get(c.rest[ch * (k - 1) + coef - 1])));
        }
    }
    s
}

/// Writes `splats` as binary little-endian float32 PLY (normals filled from the rotations).
pub fn write_ply(path: &Path, splats: &Splats) -> Result<(), PlyError> {
    let wrap = |e: std::io::Error| PlyError { path: path.to_path_buf(), problem: e.into() };
    let tmp = path.with_extension("ply.partial");
    let result = (|| {
        let mut w = BufWriter::new(std::fs::File::create(&tmp)?);
        write_ply_to(&mut w, splats)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    })();
    match result {
        Ok(()) => std::fs::rename(&tmp, path).map_err(wrap),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(wrap(e))
        }
    }
}

fn write_ply_to(w: &mut impl Write, s: &Splats) -> std::io::Result<()> {
    let k = sh_coeffs(s.sh_degree);
    writeln!(w, "ply\nformat binary_little_endian 1.0\ncomment written by splatrack\nelement vertex {}", s.len())?;
    let mut names: Vec<String> =
        ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"].map(String::from).into();
    names.extend((0..3 * (k - 1)).map(|i| format!("f_rest_{i}")));
    names.extend(["opacity", "scale_0", "scale_1", "rot_0", "rot_1", "rot_2", "rot_3"].map(String::from));
    for name in &names {
        writeln!(w, "property float {name}")?;
    }
    writeln!(w, "end_header")?;
    let mut row: Vec<f32> = Vec::with_capacity(names.len());
    for i in 0..s.len() {
        row.clear();
        let normal = s.normal(i);
        row.extend(s.means[i]);
        row.extend([normal.x, normal.y, normal.z]);
        let coeffs = &s.sh[i * k..(i + 1) * k];
        row.extend(coeffs[0]);
        for ch in 0..3 {
            row.extend(coeffs[1..].iter().map(|c| c[ch]));
        }
        row.push(s.opacity_logits[i]);
        row.extend(s.log_scales[i]);
        row.extend(s.quats[i]);
        for v in &row {
            w.write_all(&v.to_le_bytes())?;
        }
    }
    Ok(())
}
