package dev.gpuos.tensor.interp;

/**
 * An op program: the bytes the interpreter runs (8 per instruction, the {@link Opcode#PROGRAM} header first)
 * and what a task naming it must carry.
 *
 * @param code      the instructions, little-endian, ready to copy to device memory
 * @param refs      operands the task carries (memory inputs, then one output per member)
 * @param args      argument words the task carries in slots [0, args); the program's address goes in
 *                  {@link InterpreterSource#PROGRAM_ARG}
 * @param registers virtual registers used
 */
public record Program(byte[] code, int refs, int args, int registers) {
    public Program {
        code = code.clone();
    }

    public int instructions() {
        return code.length / 8;
    }

    @Override
    public byte[] code() {
        return code.clone();
    }

    /** One line per instruction, for messages and tests. */
    public String disassemble() {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < instructions(); i++) {
            int op = code[8 * i] & 0xff;
            s.append(i).append(": ").append(Opcode.values()[op]);
            for (int f = 1; f < 8; f++) s.append(' ').append(code[8 * i + f] & 0xff);
            s.append('\n');
        }
        return s.toString();
    }
}
