//! Python pickles holding numpy arrays (HO3D's `meta/*.pkl`): read through serde-pickle, written in the same
//! protocol-2 form Python 2 and numpy produce.
//!
//! serde-pickle keeps the state of objects it cannot build (`keep_restore_state`); a numpy array's state is
//! `(version, shape, dtype_state, fortran_order, raw_bytes)`. The dtype's own name is lost that way, so the
//! element type is told from the byte count: 8 bytes per element is float64, 4 is float32 (HO3D stores
//! nothing else in the fields splatrack reads).

use serde_pickle::{DeOptions, HashableValue, Value};

/// A numeric array decoded from a pickle: values in C (row-major) order and the shape.
#[derive(Debug, Clone, PartialEq)]
pub struct NdArray {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Parses a whole pickle into a value tree, numpy arrays kept as their state tuples.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    let options = DeOptions::new().keep_restore_state().replace_unresolved_globals();
    serde_pickle::value_from_slice(bytes, options).map_err(|e| format!("not a readable pickle: {e}"))
}

/// The value under string key `key` of a pickled dict.
pub fn dict_get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let Value::Dict(map) = value else { return None };
    map.iter().find_map(|(k, v)| match k {
        HashableValue::String(s) if s == key => Some(v),
        HashableValue::Bytes(b) if b == key.as_bytes() => Some(v),
        _ => None,
    })
}

fn as_usize(v: &Value) -> Option<usize> {
    match v {
        Value::I64(i) if *i >= 0 => Some(*i as usize),
        _ => None,
    }
}

/// Decodes a numpy array (its restore state), a plain list of numbers, or a nested list.
pub fn to_array(value: &Value) -> Result<NdArray, String> {
    match value {
        Value::Tuple(state) if state.len() == 5 => numpy_state(state),
        Value::List(items) | Value::Tuple(items) => {
            let mut data = Vec::new();
            let mut inner_shape = None;
            for item in items {
                let sub = match item {
                    Value::F64(x) => NdArray { shape: vec![], data: vec![*x] },
                    Value::I64(x) => NdArray { shape: vec![], data: vec![*x as f64] },
                    other => to_array(other)?,
                };
                if inner_shape.get_or_insert(sub.shape.clone()) != &sub.shape {
                    return Err("ragged nested list".into());
                }
                data.extend(sub.data);
            }
            let mut shape = vec![items.len()];
            shape.extend(inner_shape.unwrap_or_default());
            Ok(NdArray { shape, data })
        }
        other => Err(format!("expected a numpy array, found {}", describe(other))),
    }
}

fn numpy_state(state: &[Value]) -> Result<NdArray, String> {
    let Value::Tuple(shape_values) = &state[1] else { return Err("numpy array without a shape".into()) };
    let shape: Vec<usize> = shape_values.iter().map(as_usize).collect::<Option<_>>().ok_or("bad numpy shape")?;
    let big_endian = matches!(&state[2], Value::Tuple(d) if matches!(d.get(1), Some(Value::String(s)) if s == ">"));
    let fortran = matches!(state[3], Value::Bool(true));
    let raw: &[u8] = match &state[4] {
        Value::Bytes(b) => b,
        other => return Err(format!("numpy array data is {}, expected bytes", describe(other))),
    };
    let count: usize = shape.iter().product();
    if count == 0 {
        return Ok(NdArray { shape, data: Vec::new() });
    }
    let width = raw.len() / count;
    if width * count != raw.len() || !(width == 4 || width == 8) {
        return Err(format!("numpy array of {count} elements has {} bytes: not float32/float64", raw.len()));
    }
    let mut data: Vec<f64> = raw
        .chunks_exact(width)
        .map(|c| match (width, big_endian) {
            (8, false) => f64::from_le_bytes(c.try_into().unwrap()),
            (8, true) => f64::from_be_bytes(c.try_into().unwrap()),
            (_, false) => f32::from_le_bytes(c.try_into().unwrap()) as f64,
            (_, true) => f32::from_be_bytes(c.try_into().unwrap()) as f64,
        })
        .collect();
    if fortran && shape.len() == 2 {
        let (rows, cols) = (shape[0], shape[1]);
        data = (0..rows * cols).map(|k| data[(k % cols) * rows + k / cols]).collect();
    }
    Ok(NdArray { shape, data })
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::None => "None",
        Value::Bool(_) => "a bool",
        Value::I64(_) | Value::Int(_) => "an integer",
        Value::F64(_) => "a float",
        Value::Bytes(_) => "bytes",
        Value::String(_) => "a string",
        Value::List(_) => "a list",
        Value::Tuple(_) => "a tuple",
        Value::Set(_) | Value::FrozenSet(_) => "a set",
        Value::Dict(_) => "a dict",
    }
}

/// A value to write into a pickled dict.
pub enum PickleValue<'a> {
    None,
    Str(&'a str),
    /// A float64 numpy array of the given shape, row-major data.
    Array(&'a [usize], &'a [f64]),
}

/// Writes a protocol-2 pickle of a dict with string keys, numpy arrays written as numpy pickles them.
pub fn write_dict(entries: &[(&str, PickleValue)]) -> Vec<u8> {
    let mut out = vec![0x80, 2, b'}', b'('];
    for (key, value) in entries {
        unicode(&mut out, key);
        match value {
            PickleValue::None => out.push(b'N'),
            PickleValue::Str(s) => unicode(&mut out, s),
            PickleValue::Array(shape, data) => array(&mut out, shape, data),
        }
    }
    out.extend_from_slice(b"u.");
    out
}

fn unicode(out: &mut Vec<u8>, s: &str) {
    out.push(b'X');
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn short_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'U');
    out.push(s.len() as u8);
    out.extend_from_slice(s);
}

fn array(out: &mut Vec<u8>, shape: &[usize], data: &[f64]) {
    // _reconstruct(ndarray, (0,), b'b')
    out.extend_from_slice(b"cnumpy.core.multiarray\n_reconstruct\n");
    out.extend_from_slice(b"cnumpy\nndarray\nK\x00\x85");
    short_string(out, b"b");
    out.extend_from_slice(b"\x87R");
    // state: (1, shape, dtype('<f8'), False, raw)
    out.extend_from_slice(b"(K\x01(");
    for &d in shape {
        out.push(b'J');
        out.extend_from_slice(&(d as i32).to_le_bytes());
    }
    out.extend_from_slice(b"tcnumpy\ndtype\n");
    short_string(out, b"f8");
    out.extend_from_slice(b"\x89\x88\x87R(K\x03");
    short_string(out, b"<");
    out.extend_from_slice(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T");
    out.extend_from_slice(&((data.len() * 8) as u32).to_le_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(b"tb");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_arrays_read_back() {
        let k = [600.0, 0.0, 320.5, 0.0, 601.0, 240.25, 0.0, 0.0, 1.0];
        let bytes = write_dict(&[
            ("camMat", PickleValue::Array(&[3, 3], &k)),
            ("objTrans", PickleValue::None),
            ("objName", PickleValue::Str("021_bleach_cleanser")),
        ]);
        let value = parse(&bytes).unwrap();
        let cam = to_array(dict_get(&value, "camMat").unwrap()).unwrap();
        assert_eq!(cam, NdArray { shape: vec![3, 3], data: k.to_vec() });
        assert!(matches!(dict_get(&value, "objTrans"), Some(Value::None)));
        assert!(matches!(dict_get(&value, "objName"), Some(Value::String(s)) if s == "021_bleach_cleanser"));
    }
}
