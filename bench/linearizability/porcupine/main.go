// The Porcupine side of synod's linearizability benchmark: reads one register
// history (the JSON that bench/linearizability/porcupine.ts writes), checks it with
// Porcupine's CheckOperationsTimeout, partitioned by key, `rounds` times, and prints
// the verdict and each round's milliseconds as one JSON line.
//
// Built by bench/linearizability/porcupine.ts in a gitignored directory, against a
// Porcupine source tree copied there at run time (a `replace` in the generated go.mod).
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/anishathalye/porcupine"
)

type record struct {
	Client   int    `json:"client"`
	Key      string `json:"key"`
	Op       string `json:"op"`
	Value    *int64 `json:"value"`
	Expected *int64 `json:"expected"`
	Call     int64  `json:"call"`
	Return   int64  `json:"return"`
	Unknown  bool   `json:"unknown"`
	OutValue *int64 `json:"outValue"`
	OutOk    bool   `json:"outOk"`
}

type input struct {
	op       string
	key      string
	value    int64
	expected int64
}

type output struct {
	value   int64
	ok      bool
	unknown bool
}

// absent stands for the register's initial null.
const absent = math.MinInt64

func orAbsent(v *int64) int64 {
	if v == nil {
		return absent
	}
	return *v
}

var model = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		index := map[string]int{}
		var parts [][]porcupine.Operation
		for _, op := range history {
			key := op.Input.(input).key
			i, seen := index[key]
			if !seen {
				i = len(parts)
				index[key] = i
				parts = append(parts, nil)
			}
			parts[i] = append(parts[i], op)
		}
		return parts
	},
	Init: func() interface{} { return int64(absent) },
	Step: func(state, in, out interface{}) (bool, interface{}) {
		s := state.(int64)
		i := in.(input)
		o := out.(output)
		switch i.op {
		case "read":
			return o.unknown || o.value == s, s
		case "write":
			return true, i.value
		default: // cas
			swapped := s == i.expected
			next := s
			if swapped {
				next = i.value
			}
			return o.unknown || o.ok == swapped, next
		}
	},
	Equal: func(a, b interface{}) bool { return a.(int64) == b.(int64) },
	Hash:  func(s interface{}) uint64 { return uint64(s.(int64)) },
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: porcupine-bench HISTORY.json TIMEOUT_MS ROUNDS")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	var records []record
	if err := json.Unmarshal(data, &records); err != nil {
		panic(err)
	}
	var timeoutMs, rounds int
	fmt.Sscan(os.Args[2], &timeoutMs)
	fmt.Sscan(os.Args[3], &rounds)
	history := make([]porcupine.Operation, len(records))
	for i, r := range records {
		ret := r.Return
		if r.Unknown {
			ret = math.MaxInt64
		}
		history[i] = porcupine.Operation{
			ClientId: r.Client,
			Input:    input{op: r.Op, key: r.Key, value: orAbsent(r.Value), expected: orAbsent(r.Expected)},
			Call:     r.Call,
			Output:   output{value: orAbsent(r.OutValue), ok: r.OutOk, unknown: r.Unknown},
			Return:   ret,
		}
	}
	result := ""
	ms := make([]float64, 0, rounds)
	for round := 0; round < rounds; round++ {
		start := time.Now()
		res := porcupine.CheckOperationsTimeout(model, history, time.Duration(timeoutMs)*time.Millisecond)
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		result = string(res)
	}
	line, _ := json.Marshal(map[string]interface{}{"result": result, "ms": ms})
	fmt.Println(string(line))
}
