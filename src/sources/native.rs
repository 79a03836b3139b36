//! Reading a rendered batch back, column by column, to write it in the real system's
//! JSON shape (`Table::write_native`). The native writers read the very batch that goes to
//! Parquet, so the two exports hold the same records by construction.

use crate::error::Error;
use arrow::array::{
    Array, BooleanArray, Float64Array, Int32Array, Int64Array, ListArray, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use arrow::record_batch::RecordBatch;

/// Typed access to a batch's columns by name.
pub struct Columns<'a> {
    batch: &'a RecordBatch,
}

impl<'a> Columns<'a> {
    pub fn new(batch: &'a RecordBatch) -> Self {
        Columns { batch }
    }

    pub fn rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// The column `name` as array type `T`.
    pub fn get<T: Array + 'static>(&self, name: &str) -> Result<&'a T, Error> {
        let col = self
            .batch
            .column_by_name(name)
            .ok_or_else(|| Error::Other(format!("native export: no column `{name}`")))?;
        col.as_any().downcast_ref::<T>().ok_or_else(|| {
            Error::Other(format!(
                "native export: column `{name}` is {}, not the expected type",
                col.data_type()
            ))
        })
    }

    pub fn str(&self, name: &str) -> Result<&'a StringArray, Error> {
        self.get(name)
    }

    pub fn ts(&self, name: &str) -> Result<&'a TimestampMicrosecondArray, Error> {
        self.get(name)
    }

    pub fn i64(&self, name: &str) -> Result<&'a Int64Array, Error> {
        self.get(name)
    }

    pub fn i32(&self, name: &str) -> Result<&'a Int32Array, Error> {
        self.get(name)
    }

    pub fn f64(&self, name: &str) -> Result<&'a Float64Array, Error> {
        self.get(name)
    }

    pub fn bool(&self, name: &str) -> Result<&'a BooleanArray, Error> {
        self.get(name)
    }

    pub fn list(&self, name: &str) -> Result<List<'a>, Error> {
        let list: &ListArray = self.get(name)?;
        Ok(List { list })
    }
}

/// A list column; its items are a struct or a primitive array.
pub struct List<'a> {
    list: &'a ListArray,
}

impl<'a> List<'a> {
    /// The range of item indices of row `i` in [`List::values`] (empty when null).
    pub fn range(&self, i: usize) -> std::ops::Range<usize> {
        if self.list.is_null(i) {
            return 0..0;
        }
        let o = self.list.value_offsets();
        o[i] as usize..o[i + 1] as usize
    }

    /// The items, as array type `T`.
    pub fn values<T: Array + 'static>(&self) -> Result<&'a T, Error> {
        self.list
            .values()
            .as_any()
            .downcast_ref::<T>()
            .ok_or_else(|| Error::Other("native export: unexpected list item type".into()))
    }

    /// The items' struct field `name`, as array type `T`.
    pub fn field<T: Array + 'static>(&self, name: &str) -> Result<&'a T, Error> {
        let s: &StructArray = self.values()?;
        let col = s
            .column_by_name(name)
            .ok_or_else(|| Error::Other(format!("native export: no list field `{name}`")))?;
        col.as_any().downcast_ref::<T>().ok_or_else(|| {
            Error::Other(format!(
                "native export: list field `{name}` is {}, not the expected type",
                col.data_type()
            ))
        })
    }
}

/// The value of a nullable string column at `i`.
#[inline]
pub fn opt_str(a: &StringArray, i: usize) -> Option<&str> {
    (!a.is_null(i)).then(|| a.value(i))
}

/// The value of a nullable Int32 column at `i`.
#[inline]
pub fn opt_i32(a: &Int32Array, i: usize) -> Option<i32> {
    (!a.is_null(i)).then(|| a.value(i))
}

/// The value of a nullable Int64 column at `i`.
#[inline]
pub fn opt_i64(a: &Int64Array, i: usize) -> Option<i64> {
    (!a.is_null(i)).then(|| a.value(i))
}

/// The value of a nullable Float64 column at `i`.
#[inline]
pub fn opt_f64(a: &Float64Array, i: usize) -> Option<f64> {
    (!a.is_null(i)).then(|| a.value(i))
}
